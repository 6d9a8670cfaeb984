"""One real `streamlit run app.py` for tests that talk to a live server (browser, sessions).

The server listens on a free port of 127.0.0.1 only, with its own cache and data folders,
and is stopped when the block ends; a server that exits or does not answer its health
check within ``start_s`` fails the test with its log.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LiveServer:
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(tmp_path_factory, start_s: float) -> Iterator[LiveServer]:
    """Start the app, wait until it answers, yield it, stop it."""
    server = LiveServer(free_port(), tmp_path_factory.mktemp("server") / "streamlit.log")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GLM_EXPLORER_CACHE": str(tmp_path_factory.mktemp("cache")),
        "GLM_EXPLORER_DATA": str(tmp_path_factory.mktemp("data")),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(server.port),
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with open(server.log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + start_s
        while True:
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}:\n{server.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as reply:
                    if reply.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                log = server.log_path.read_text()
                pytest.fail(f"streamlit did not answer on {server.url} within {start_s} s:\n{log}")
            time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
