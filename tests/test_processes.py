"""glm_core.processes: one process alone, and two processes in a gloo group on the CPU."""

import socket

import torch
import torch.multiprocessing as mp

from glm_core.processes import Processes


def test_one_process_is_rank_zero_of_one_and_collectives_return_its_values(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    processes = Processes("cpu")
    assert (processes.world, processes.rank, processes.first) == (1, 0, True)
    assert processes.device == torch.device("cpu")
    assert processes.max(2.5) == 2.5 and processes.from_first({"a": 1}) == {"a": 1}
    processes.barrier()
    processes.check_replicas_agree(torch.nn.Linear(2, 2))
    processes.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, results) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank))
    processes = Processes("cpu")
    try:
        torch.manual_seed(rank)  # different weights on each process
        drifted = torch.nn.Linear(3, 3)
        try:
            processes.check_replicas_agree(drifted)
            agreed = True
        except RuntimeError:
            agreed = False
        results[rank] = (processes.max(float(rank + 10)), processes.from_first(f"from {rank}"), agreed)
        processes.barrier()
    finally:
        processes.close()


def test_two_processes_agree_on_the_maximum_and_the_first_process_value():
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_worker, args=(_free_port(), results), nprocs=2, join=True)
        assert dict(results) == {0: (11.0, "from 0", False), 1: (11.0, "from 0", False)}
