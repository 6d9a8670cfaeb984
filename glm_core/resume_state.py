"""A training run's state to continue from (weights, optimiser, random state), without pickles.

``<output dir>/checkpoint/`` holds

* ``model.safetensors``: the model's parameters and buffers (shared tensors stored once);
* ``optimizer.safetensors``: every tensor of the optimiser state, named
  ``state.<parameter index>.<name>`` (AdamW: ``step``, ``exp_avg``, ``exp_avg_sq``), and the
  random generator's state as ``generator`` (uint8);
* ``state.json``: step, best held-out loss (nats), evaluation history, the optimiser's
  parameter groups and any non-tensor optimiser entries.

Reading runs no code from the files: safetensors holds only tensors and JSON only data.
The folder is replaced whole (:func:`glm_core.outputs.atomic_folder`), so a run killed while
saving continues from the previous state. A ``checkpoint.pt`` written by earlier versions is
read with ``torch.load(weights_only=True)``, which accepts tensors, dicts, lists, tuples,
numbers, strings and None only; a file that holds anything else (a pickle that would run
code on loading) is refused with :class:`glm_core.errors.InputError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import InputError
from .outputs import atomic_folder

CHECKPOINT_FOLDER = "checkpoint"
LEGACY_CHECKPOINT = "checkpoint.pt"
MODEL_FILE, OPTIMIZER_FILE, STATE_FILE = "model.safetensors", "optimizer.safetensors", "state.json"


def save_resume_state(
    out: str | Path, model, optimizer, generator: torch.Generator, step: int, best_loss: float, history: list
) -> Path:
    """Write ``out/checkpoint/`` (see the module docstring) and remove an older ``checkpoint.pt``."""
    from safetensors.torch import save_file, save_model

    out = Path(out)
    optimizer_state = optimizer.state_dict()
    tensors = {"generator": generator.get_state().cpu()}
    scalars: dict[str, object] = {}
    for index, entries in optimizer_state["state"].items():
        for name, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"state.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{name}"] = value
    folder = out / CHECKPOINT_FOLDER
    with atomic_folder(folder) as temporary:
        save_model(model, str(temporary / MODEL_FILE))
        save_file(tensors, str(temporary / OPTIMIZER_FILE))
        (temporary / STATE_FILE).write_text(
            json.dumps(
                {
                    "step": step,
                    "best_loss": best_loss,
                    "history": history,
                    "param_groups": optimizer_state["param_groups"],
                    "optimizer_scalars": scalars,
                }
            )
        )
    (out / LEGACY_CHECKPOINT).unlink(missing_ok=True)
    return folder


@dataclass
class ResumeState:
    """What :func:`read_resume_state` found; :meth:`restore` puts it into a freshly built run."""

    source: Path
    step: int
    best_loss: float
    history: list
    optimizer_state: dict
    generator_state: torch.Tensor | None
    model_state: dict | None = None  # legacy checkpoint.pt; else the weights are read from ``source``
    extra: dict = field(default_factory=dict)

    def restore(self, model, optimizer, generator: torch.Generator | None) -> None:
        """Load the weights, optimiser state and (when ``generator`` is given) random state; in place."""
        from safetensors.torch import load_model

        try:
            if self.model_state is not None:
                model.load_state_dict(self.model_state)
            else:
                load_model(model, str(self.source / MODEL_FILE), strict=True)
            optimizer.load_state_dict(self.optimizer_state)
        except (RuntimeError, ValueError, KeyError) as error:
            raise InputError(
                f"{self.source} does not fit this model ({str(error).splitlines()[0]}); it was saved by a run "
                "with other settings: use the same settings, or another --output-dir to start afresh"
            ) from None
        if generator is not None and self.generator_state is not None:
            generator.set_state(self.generator_state.cpu())


def read_resume_state(out: str | Path) -> ResumeState | None:
    """The state saved in ``out`` (``checkpoint/``, else a legacy ``checkpoint.pt``), or None.

    Raises InputError, naming the file, for a damaged folder or a ``checkpoint.pt`` that is
    not plain tensors and data; nothing in the files is executed.
    """
    out = Path(out)
    folder = out / CHECKPOINT_FOLDER
    if folder.is_dir():
        return _read_folder(folder)
    legacy = out / LEGACY_CHECKPOINT
    if legacy.exists():
        return _read_legacy(legacy)
    return None


def _read_folder(folder: Path) -> ResumeState:
    from safetensors import safe_open
    from safetensors.torch import load_file

    what_to_do = (
        f"delete {folder} to start over, or continue from the weights alone with "
        f"--resume-weights {folder.parent / 'latest'}"
    )
    try:
        state = json.loads((folder / STATE_FILE).read_text())
        with safe_open(str(folder / MODEL_FILE), framework="pt"):
            pass  # the header and size are checked here, before any work
        tensors = load_file(str(folder / OPTIMIZER_FILE))
    except FileNotFoundError as error:
        raise InputError(f"{folder} is incomplete: {Path(error.filename).name} is missing; {what_to_do}") from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"{folder / STATE_FILE} is not valid JSON ({error.msg}, line {error.lineno}); {what_to_do}"
        ) from None
    except Exception as error:  # safetensors raises its own SafetensorError
        raise InputError(
            f"{folder}: a .safetensors file is damaged ({str(error).splitlines()[0]}); {what_to_do}"
        ) from None
    optimizer_state: dict = {"state": {}, "param_groups": state["param_groups"]}
    for key, tensor in tensors.items():
        if key.startswith("state."):
            _, index, name = key.split(".", 2)
            optimizer_state["state"].setdefault(int(index), {})[name] = tensor
    for key, value in state.get("optimizer_scalars", {}).items():
        index, name = key.split(".", 1)
        optimizer_state["state"].setdefault(int(index), {})[name] = value
    return ResumeState(
        folder,
        int(state["step"]),
        float(state["best_loss"]),
        list(state["history"]),
        optimizer_state,
        tensors.get("generator"),
    )


def _read_legacy(path: Path) -> ResumeState:
    import pickle

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return ResumeState(
            path,
            int(state["step"]),
            float(state["best_loss"]),
            list(state["history"]),
            state["optimizer"],
            state.get("generator"),
            model_state=state["model"],
        )
    except pickle.UnpicklingError as error:
        raise InputError(
            f"{path} is not a plain-tensor checkpoint and is not loaded: reading it would run code stored in it "
            f"({str(error).splitlines()[0][:160]}). Delete it if you did not write it; to continue a run of your "
            f"own, use --resume-weights {path.parent / 'latest'}"
        ) from None
    except (RuntimeError, EOFError, KeyError, TypeError, AttributeError, ValueError) as error:
        raise InputError(
            f"{path} is damaged or not a checkpoint of this program ({str(error).splitlines()[0][:160]}); delete "
            f"it to start over, or continue from the weights with --resume-weights {path.parent / 'latest'}"
        ) from None
