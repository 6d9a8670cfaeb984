"""Rebuild the embedded U. maydis genome assets from Debian's ``maffilter-examples``.

Usage (on a Debian machine)::

    python scripts/build_umaydis_assets.py            # downloads the .deb with apt-get
    python scripts/build_umaydis_assets.py --deb PATH # or uses one you already have

Writes ``assets/genomes/umaydis/``:

* ``umaydis.fa.gz`` (+ ``.fai``, ``.gzi``): bgzip-compressed FASTA with headers
  normalised from ``Umaydis:chr01:1:+:2476500`` to ``chr01``, so pyfaidx reads
  it with random access;
* ``umaydis.gff3.gz``: the package's GFF3, unchanged.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pysam

PACKAGE = "maffilter-examples"
EXAMPLE_DIR = Path("usr/share/doc/maffilter/examples/Umaydis")
OUT_DIR = Path(__file__).resolve().parent.parent / "assets" / "genomes" / "umaydis"


def normalised_header(header: str) -> str:
    """``>Umaydis:chr01:1:+:2476500`` -> ``chr01`` (the sequence name alone)."""
    fields = header[1:].strip().split(":")
    return fields[1] if len(fields) >= 2 and fields[0] == "Umaydis" else fields[0]


def unpack_deb(deb: Path | None, workdir: Path) -> Path:
    if deb is None:
        subprocess.run(["apt-get", "download", PACKAGE], cwd=workdir, check=True)
        deb = next(workdir.glob(f"{PACKAGE}_*.deb"))
    subprocess.run(["dpkg", "-x", str(deb), str(workdir / "root")], check=True)
    return workdir / "root" / EXAMPLE_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deb", type=Path, help="an already downloaded maffilter-examples .deb")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        src = unpack_deb(args.deb.resolve() if args.deb else None, Path(tmp))
        plain = Path(tmp) / "umaydis.fa"
        with gzip.open(src / "Umaydis.fasta.gz", "rt") as fin, open(plain, "w") as fout:
            for line in fin:
                fout.write(f">{normalised_header(line)}\n" if line.startswith(">") else line)
        fasta = args.out / "umaydis.fa.gz"
        for stale in (fasta, Path(f"{fasta}.fai"), Path(f"{fasta}.gzi")):
            stale.unlink(missing_ok=True)
        pysam.tabix_compress(str(plain), str(fasta), force=True)
        pysam.faidx(str(fasta))  # writes .fai and .gzi beside the bgzip file
        shutil.copyfile(src / "Umaydis.gff3.gz", args.out / "umaydis.gff3.gz")
    print(f"wrote {sorted(p.name for p in args.out.iterdir())} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
