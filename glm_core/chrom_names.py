"""Chromosome-name aliases: matching the names of a variant or track file to a genome's.

Files made for one assembly often name its sequences differently (``1``, ``chr1``,
``chr01``, ``chromosome_1``). :func:`resolve_chromosomes` matches such names to the
sequence names of a :class:`glm_core.genome.Genome` (its ``chrom_sizes``), exactly where
possible and through an alias key otherwise, and says how each name was matched.

An annotation and its FASTA can differ the same way (Debian's U. maydis FASTA headers read
``Umaydis:chr01:1:+:2476500``, its GFF says ``chr01``): :func:`propose_name_mapping` finds
the systematic pattern, :func:`read_aliases` reads a two-column aliases file instead, and
:func:`rename_sequences` applies either to a feature table.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import InputError

ALIAS_PREFIXES = ("chromosome", "chrom", "chr")


def alias_key(name: str) -> str:
    """The form two names must share to be aliases of each other.

    Lower case, without a leading ``chromosome``/``chrom``/``chr`` (and a ``_`` or ``-``
    after it), a number without leading zeros, and ``m`` written ``mt``:
    ``alias_key("chr01") == alias_key("1") == "1"``, ``alias_key("chrM") == "mt"``.
    """
    key = str(name).strip().lower()
    for prefix in ALIAS_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix) :].lstrip("_-")
            break
    if key.isdigit():
        key = str(int(key))
    return "mt" if key in ("m", "mt") else key


def resolve_chromosomes(names, chrom_sizes: dict[str, int]) -> pd.DataFrame:
    """Match variant-file chromosome names to genome sequence names.

    An exact name wins; otherwise names match when they agree after dropping a leading
    ``chr``/``chrom``/``chromosome`` and leading zeros of a number, with ``M`` = ``MT``:
    ``1``, ``chr1``, ``01`` and ``chr01`` all match one another.

    Returns
    -------
    pd.DataFrame with columns ``vcf_chrom``, ``genome_chrom`` (None unless matched) and
    ``match``: ``exact``, ``alias``, ``ambiguous`` (several genome names fit) or ``unknown``.
    """
    by_key: dict[str, list[str]] = {}
    for chrom in chrom_sizes:
        key = alias_key(chrom)
        if key:
            by_key.setdefault(key, []).append(chrom)
    rows = []
    for name in pd.unique(pd.Series(list(names), dtype=object)):
        if name in chrom_sizes:
            rows.append((name, name, "exact"))
            continue
        candidates = by_key.get(alias_key(name), []) if alias_key(name) else []
        if len(candidates) == 1:
            rows.append((name, candidates[0], "alias"))
        else:
            rows.append((name, None, "ambiguous" if candidates else "unknown"))
    return pd.DataFrame(
        {
            "vcf_chrom": pd.Series([row[0] for row in rows], dtype=object),
            "genome_chrom": pd.Series([row[1] for row in rows], dtype=object),
            "match": [row[2] for row in rows],
        }
    )


# --------------------------------------------------------------------------- FASTA vs annotation names

_VERSION_SUFFIX = re.compile(r"\.\d+$")


@dataclass(frozen=True)
class NameMapping:
    """How the sequence names of an annotation map to those of a FASTA file.

    Attributes
    ----------
    table : pd.DataFrame, one row per annotation sequence name (file order), columns
        ``annotation_name``, ``fasta_name`` (None when unmatched) and ``rule`` (how it was
        matched: ``same name``, e.g. ``FASTA ':'-field 2``, ``aliases file``, or ``unmatched``).
    fasta_names : every FASTA sequence name, in file order.
    """

    table: pd.DataFrame
    fasta_names: tuple[str, ...]

    @property
    def mapping(self) -> dict[str, str]:
        """Annotation name -> FASTA name for every matched name (identical ones included)."""
        matched = self.table[self.table["fasta_name"].notna()]
        return dict(zip(matched["annotation_name"], matched["fasta_name"]))

    @property
    def renames(self) -> dict[str, str]:
        """Only the names that change."""
        return {a: f for a, f in self.mapping.items() if a != f}

    @property
    def unmatched_annotation(self) -> list[str]:
        return self.table.loc[self.table["fasta_name"].isna(), "annotation_name"].tolist()

    @property
    def unmatched_fasta(self) -> list[str]:
        """FASTA sequences no annotation name maps to (often fine: unplaced contigs, organelles)."""
        used = set(self.mapping.values())
        return [name for name in self.fasta_names if name not in used]

    @property
    def rules(self) -> list[str]:
        """The rules used, most names first (``same name`` left out)."""
        counts = self.table.loc[~self.table["rule"].isin(["same name", "unmatched"]), "rule"].value_counts()
        return counts.index.tolist()

    def describe(self) -> str:
        """One sentence: what was mapped and how, and what stays unmatched."""
        total = len(self.table)
        if not self.renames and not self.unmatched_annotation:
            return f"all {total} annotation sequence names are FASTA names"
        parts = [f"{len(self.renames)} of {total} annotation sequence names mapped ({'; '.join(self.rules)})"]
        if self.unmatched_annotation:
            parts.append(f"{len(self.unmatched_annotation)} unmatched: {_shown(self.unmatched_annotation)}")
        return ", ".join(parts)


def propose_name_mapping(fasta_names, annotation_names) -> NameMapping:
    """Match annotation sequence names to FASTA names that differ by a systematic pattern.

    Names equal in both files match first. The others are matched by the one rule that
    explains most of them, then by the next rules for what is left; a rule only matches
    names one-to-one (a key shared by two FASTA names matches neither). Rules: the n-th
    ``:``- or ``|``-separated field of the longer names (Debian's ``Umaydis:chr01:1:+:2476500``
    is ``chr01``), a prefix or suffix all names on one side share, and, combined with each,
    a version suffix (``NC_003070.9`` = ``NC_003070``) and ``chr``/leading zeros
    (``chr01`` = ``1``, see :func:`alias_key`).

    Returns
    -------
    :class:`NameMapping`, with unmatched names listed (``fasta_name`` None).
    """
    fasta = list(dict.fromkeys(str(n) for n in fasta_names))
    annotation = list(dict.fromkeys(str(n) for n in annotation_names))
    matched: dict[str, tuple[str, str]] = {name: (name, "same name") for name in annotation if name in set(fasta)}
    free_fasta = [name for name in fasta if name not in {f for f, _ in matched.values()}]
    while True:
        waiting = [name for name in annotation if name not in matched]
        if not waiting or not free_fasta:
            break
        best_rule, best = None, {}
        for rule, on_fasta, on_annotation in _rules(free_fasta, waiting):
            found = _one_to_one(free_fasta, waiting, on_fasta, on_annotation)
            if len(found) > len(best):
                best_rule, best = rule, found
        if not best:
            break
        for name, target in best.items():
            matched[name] = (target, best_rule)
        free_fasta = [name for name in free_fasta if name not in set(best.values())]
    rows = [(name, *matched.get(name, (None, "unmatched"))) for name in annotation]
    table = pd.DataFrame(
        {
            "annotation_name": pd.Series([r[0] for r in rows], dtype=object),
            "fasta_name": pd.Series([r[1] for r in rows], dtype=object),
            "rule": pd.Series([r[2] for r in rows], dtype=object),
        }
    )
    return NameMapping(table, tuple(fasta))


def _rules(fasta: list[str], annotation: list[str]):
    """``(rule, key of a FASTA name, key of an annotation name)`` candidates, simplest first."""

    def same(name):
        return name

    shapes = [("", same, same)]
    for side, names in (("FASTA", fasta), ("annotation", annotation)):
        for separator in (":", "|"):
            fields = max((name.count(separator) for name in names), default=0)
            for index in range(fields + 1 if fields else 0):
                take = _field(separator, index)
                rule = f"{side} {separator!r}-field {index + 1}"
                shapes.append((rule, take, same) if side == "FASTA" else (rule, same, take))
        prefix, suffix = os.path.commonprefix(names), _common_suffix(names)
        # A shared prefix may run into the part that differs ("Um_chr0" of Um_chr01, Um_chr02):
        # try it cut back to its last separator first.
        candidates = [("prefix", re.sub(r"[A-Za-z0-9]+$", "", prefix)), ("prefix", prefix)]
        candidates += [("suffix", re.sub(r"^[A-Za-z0-9]+", "", suffix)), ("suffix", suffix)]
        for kind, common in dict.fromkeys(candidates):
            if common and len(names) > 1:
                cut = _without(kind, common)
                rule = f"{side} names without the {kind} {common!r}"
                shapes.append((rule, cut, same) if side == "FASTA" else (rule, same, cut))
    keys = [
        ("", same),
        ("version suffix ignored", lambda n: _VERSION_SUFFIX.sub("", n)),
        ("'chr' and leading zeros ignored", alias_key),
        ("version suffix, 'chr' and leading zeros ignored", lambda n: alias_key(_VERSION_SUFFIX.sub("", n))),
    ]
    for shape_rule, on_fasta, on_annotation in shapes:
        for key_rule, key in keys:
            if not shape_rule and not key_rule:
                continue
            rule = ", ".join(part for part in (shape_rule, key_rule) if part)
            yield rule, (lambda n, s=on_fasta, k=key: k(s(n))), (lambda n, s=on_annotation, k=key: k(s(n)))


def _field(separator: str, index: int):
    def take(name: str) -> str:
        fields = name.split(separator)
        return fields[index] if index < len(fields) else ""

    return take


def _without(kind: str, common: str):
    def cut(name: str) -> str:
        return name[len(common) :] if kind == "prefix" else name[: len(name) - len(common)]

    return cut


def _common_suffix(names: list[str]) -> str:
    return os.path.commonprefix([name[::-1] for name in names])[::-1]


def _one_to_one(fasta: list[str], annotation: list[str], on_fasta, on_annotation) -> dict[str, str]:
    """Annotation name -> FASTA name where the keys agree and each key belongs to one name on each side."""
    by_key: dict[str, list[str]] = {}
    for name in fasta:
        key = on_fasta(name)
        if key:
            by_key.setdefault(key, []).append(name)
    wanted: dict[str, list[str]] = {}
    for name in annotation:
        key = on_annotation(name)
        if key:
            wanted.setdefault(key, []).append(name)
    return {
        names[0]: by_key[key][0] for key, names in wanted.items() if len(names) == 1 and len(by_key.get(key, ())) == 1
    }


def read_aliases(path: str | Path, fasta_names, annotation_names) -> NameMapping:
    """A :class:`NameMapping` from a two-column aliases file (one name pair a line).

    Columns are separated by a tab or spaces, in either order (the column holding FASTA
    names is recognised per line); ``#`` lines and blank lines are skipped. Annotation
    names the file does not mention keep their name if the FASTA has it.

    Raises
    ------
    FileNotFoundError; InputError naming the line for a line without exactly two names or a
    pair of which neither name is a FASTA sequence.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"aliases file not found: {path}")
    fasta = list(dict.fromkeys(str(n) for n in fasta_names))
    in_fasta = set(fasta)
    aliases: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip() or text.startswith("#"):
                continue
            fields = text.split()
            if len(fields) != 2:
                raise InputError(
                    f"{path}, line {number}: expected two names (annotation name and FASTA name), found "
                    f"{len(fields)} ({text.strip()[:60]!r})"
                )
            first, second = fields
            if second in in_fasta:
                aliases[first] = second
            elif first in in_fasta:
                aliases[second] = first
            else:
                raise InputError(
                    f"{path}, line {number}: neither {first!r} nor {second!r} is a sequence of the FASTA file, "
                    f"which has {_shown(fasta)}"
                )
    rows = []
    for name in dict.fromkeys(str(n) for n in annotation_names):
        if name in aliases:
            rows.append((name, aliases[name], "aliases file"))
        elif name in in_fasta:
            rows.append((name, name, "same name"))
        else:
            rows.append((name, None, "unmatched"))
    table = pd.DataFrame(rows, columns=["annotation_name", "fasta_name", "rule"], dtype=object)
    return NameMapping(table, tuple(fasta))


def rename_sequences(table: pd.DataFrame, mapping: dict[str, str], column: str = "chrom") -> pd.DataFrame:
    """A copy of ``table`` with ``column`` renamed through ``mapping``; names not in it are kept."""
    renamed = table.copy()
    renamed[column] = renamed[column].map(lambda name: mapping.get(name, name)).astype(table[column].dtype)
    return renamed


def _shown(names: list[str], limit: int = 8) -> str:
    return ", ".join(map(str, names[:limit])) + (f" ... ({len(names) - limit} more)" if len(names) > limit else "")
