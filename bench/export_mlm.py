"""Copy a trained masked LM into a shippable folder: fp16 safetensors, tokenizer, optional model card.

The last step of ``bench/device_train_mlm.sh``; run from the repository root::

    python -m bench.export_mlm /root/mlm-run/best /root/mlm-run/gpn-umaydis [--model-card README.md]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from glm_core.models import load_masked_lm
from glm_core.training import save_model_folder


def export_model(best_dir: Path, target: Path, model_card: str | None = None) -> None:
    """Replace ``target`` with the model of ``best_dir`` stored in fp16, plus ``README.md`` when given."""
    loaded = load_masked_lm(best_dir, device="cpu")
    if target.exists():
        shutil.rmtree(target)
    save_model_folder(loaded.model, target, half=True)
    if model_card:
        (target / "README.md").write_text(model_card)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("best", type=Path, help="the save_pretrained folder training kept as best")
    parser.add_argument("target", type=Path, help="the folder to write (replaced if it exists)")
    parser.add_argument("--model-card", type=Path, default=None, help="a README.md to ship with the weights")
    args = parser.parse_args(argv)
    export_model(args.best, args.target, args.model_card.read_text() if args.model_card else None)
    print(f"exported {args.best} to {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
