"""Eight sessions at once against one real server: each keeps its own locus, none sees an error.

One `streamlit run app.py` is started on a free port of 127.0.0.1 (as in
tests/test_browser.py) and eight clients speak Streamlit's own websocket protocol to it
(``/_stcore/stream``, protobuf BackMsg / ForwardMsg, what the browser sends), so no browser
is needed. In lockstep, every session types its own region into the overview page's locus
box, then opens the Predicted-logo page, whose region box must show that session's region
and no other; then all do it once more. Facts checked: the overview's locus chart spans the
session's own region, the logo page offers exactly that region, no session gets an
exception or an error box, and the server log has no traceback. Bounded: 8 sessions, a
60-s limit on every reply, the server stopped at the end.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from live_server import live_server

pytest.importorskip("websockets.sync.client")
from streamlit.proto.Alert_pb2 import Alert  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = 8
SERVER_START_S = 60
REPLY_S = 60
LOCUS_KEY = "overview_locus_query"
LOGO_KEY = "logo_query"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run app.py` on 127.0.0.1; yields (port, log path) and stops the server afterwards."""
    with live_server(tmp_path_factory, SERVER_START_S) as running:
        yield running.port, running.log_path


class Session:
    """One browser tab's worth of protocol: rerun the script with widget values, collect the reply."""

    def __init__(self, port: int):
        self.socket = connect(
            f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], max_size=None, open_timeout=REPLY_S
        )
        self.pages: dict[str, str] = {}
        self.problems: list[str] = []

    def run(self, widgets: dict[str, str] | None = None, page: str = "") -> list:
        """Rerun on ``page`` (url path; '' = landing) with text widgets ``{widget id: value}``; the new elements."""
        message = BackMsg()
        message.rerun_script.query_string = ""
        message.rerun_script.page_script_hash = self.pages.get(page, "")
        for widget_id, value in (widgets or {}).items():
            message.rerun_script.widget_states.widgets.append(WidgetState(id=widget_id, string_value=value))
        self.socket.send(message.SerializeToString())
        elements = []
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(self.socket.recv(timeout=REPLY_S))
            kind = reply.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in reply.navigation.app_pages}
            elif kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                element = reply.delta.new_element
                elements.append(element)
                if element.WhichOneof("type") == "exception":
                    self.problems.append(f"exception: {element.exception.message}")
                if element.WhichOneof("type") == "alert" and element.alert.format == Alert.ERROR:
                    self.problems.append(f"error: {element.alert.body}")
            elif kind == "script_finished":
                return elements

    def close(self) -> None:
        self.socket.close()


def widget(elements, kind: str, key: str):
    found = [getattr(e, kind) for e in elements if e.WhichOneof("type") == kind and getattr(e, kind).id.endswith(key)]
    assert len(found) == 1, f"no {kind} {key} on the page"
    return found[0]


def locus_chart_range(elements) -> list[float]:
    chart = widget(elements, "plotly_chart", "overview_locus_chart")
    return json.loads(chart.spec)["layout"]["xaxis"]["range"]


def test_eight_sessions_keep_their_own_locus(server):
    port, log_path = server
    regions = [f"chr{index + 1:02d}:{1_000 * index + 1:,}-{1_000 * index + 150:,}" for index in range(SESSIONS)]
    barrier = threading.Barrier(SESSIONS, timeout=REPLY_S * 3)

    def drive(index: int) -> tuple[list, list[str], list[str]]:
        session = Session(port)
        try:
            landing = session.run()
            locus_box = widget(landing, "text_input", LOCUS_KEY).id
            spans, offered = [], []
            for _ in range(2):
                barrier.wait()  # all sessions rerun at the same moment
                overview = session.run({locus_box: regions[index]})
                spans.append(locus_chart_range(overview))
                barrier.wait()
                logo = session.run(page="logo")
                offered.append(widget(logo, "text_input", LOGO_KEY).value)
            return spans, offered, session.problems
        finally:
            session.close()

    began = time.monotonic()
    with ThreadPoolExecutor(SESSIONS) as pool:
        results = list(pool.map(drive, range(SESSIONS)))
    for index, (spans, offered, problems) in enumerate(results):
        first = 1_000 * index + 1
        assert problems == [], f"session {index}: {problems}"
        assert spans == [[first - 0.5, first + 149.5]] * 2, f"session {index}"
        assert offered == [f"{regions[index]} (+)"] * 2, f"session {index}"
    assert time.monotonic() - began < 120
    assert "Traceback" not in log_path.read_text()
