"""This process's place in a ``torchrun`` launch: rank, world size, device and collectives.

One process without torchrun is rank 0 of a world of 1, and every collective is then a no-op.
GPUs are shared round-robin when there are more processes than GPUs (``LOCAL_RANK`` modulo the
GPU count); the process group is NCCL when each process has a GPU of its own, gloo otherwise
(CPU, or processes sharing a GPU). Used by data-parallel training
(:mod:`glm_core.training`) and sharded genome scoring (:mod:`glm_core.genome_scores`).
"""

from __future__ import annotations

import os

import torch

from .models import resolve_device


class Processes:
    """Rank, world size and device of this process; the group is joined on creation."""

    def __init__(self, device: str | torch.device | None):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = resolve_device(device)
        self._group = False
        if self.world > 1:
            import torch.distributed as dist

            backend = "gloo"
            if self.device.type == "cuda":
                count = torch.cuda.device_count()
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % count)
                torch.cuda.set_device(self.device)
                backend = "nccl" if self.world <= count else "gloo"
            if not dist.is_initialized():
                dist.init_process_group(backend)
                self._group = True

    @property
    def first(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def max(self, value: float) -> float:
        """The largest ``value`` over the processes, so all take the same decision."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        on = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
        tensor = torch.tensor([value], dtype=torch.float64, device=on)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return float(tensor.item())

    def from_first(self, value):
        """The first process's ``value`` (any picklable object), on every process."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def check_replicas_agree(self, model: torch.nn.Module) -> None:
        """Raise if the processes' copies of the weights have drifted apart."""
        if self.world == 1:
            return
        checksum = sum(float(p.detach().double().sum()) for p in model.parameters())
        lowest, highest = -self.max(-checksum), self.max(checksum)
        if highest - lowest > 1e-6 * max(1.0, abs(highest)):
            raise RuntimeError(f"data-parallel replicas disagree (weight sums {lowest} .. {highest})")

    def close(self) -> None:
        """Leave the process group, if this object joined it."""
        if self._group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._group = False
