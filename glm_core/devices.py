"""Which compute devices this machine can run on, checked before anything is loaded.

:func:`check_device` turns a device name a user typed (``--device``, ``GLM_EXPLORER_DEVICE``)
into a clear :class:`glm_core.errors.InputError` when the machine cannot run it: an unknown
name (``tpu``), CUDA without a CUDA GPU or build, a GPU index the machine lacks, MPS off a Mac.
The automatic choice (None) is :func:`glm_core.models.resolve_device`.
"""

from __future__ import annotations

from .errors import InputError

SUPPORTED = ("cuda", "mps", "cpu")


def check_device(name: str | None, what: str = "--device") -> None:
    """Raise InputError, naming ``what`` (the option or variable) and the value, unless ``name`` can run here."""
    if name is None:
        return
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(
            f"{what} {name} is not a device; use cuda, mps or cpu, or leave {what} out for the best one available"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                f"{what} {name}: this machine has no usable CUDA GPU (PyTorch {torch.__version__}, "
                f"built for CUDA {torch.version.cuda or 'none: a CPU build'}); use cpu, or "
                "install a CUDA build of PyTorch (README, GPU install)"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise InputError(f"{what} {name}: this machine has {count} CUDA GPU(s), numbered 0-{count - 1}")
    elif device.type == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise InputError(f"{what} {name}: Apple MPS is not available on this machine; use cpu")
    elif device.type not in SUPPORTED:
        raise InputError(f"{what} {name}: only cuda, mps and cpu are supported")
