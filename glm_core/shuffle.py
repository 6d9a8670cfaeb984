"""Dinucleotide-preserving shuffles: control sequences with a sequence's exact 2-mer counts."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

__all__ = ["dinucleotide_shuffle"]


def dinucleotide_shuffle(sequence: str, rng: np.random.Generator | int | None = None) -> str:
    """A random sequence with exactly the dinucleotide counts of ``sequence``, same first and last letter.

    Altschul & Erickson's shuffle, drawn uniformly by the Euler-path method (Kandel et al.
    1996): letters are vertices and the overlapping dinucleotides are edges, so ``sequence``
    is an Eulerian walk. A random "last exit" per letter is drawn until the last exits form a
    tree towards the final letter (otherwise a walk could strand before using every edge);
    the other exits of each letter are put in random order, and walking from the first letter
    spells out the shuffled sequence. Letters are taken as they are (case matters).
    """
    rng = np.random.default_rng(rng)
    if len(sequence) < 3:
        return sequence
    first, final = sequence[0], sequence[-1]
    exits: dict[str, list[str]] = {}
    for here, there in pairwise(sequence):
        exits.setdefault(here, []).append(there)

    def reaches_final(letter: str, last_exit: dict[str, str]) -> bool:
        seen = set()
        while letter != final:
            if letter in seen:
                return False
            seen.add(letter)
            letter = last_exit[letter]
        return True

    while True:
        last_index = {letter: int(rng.integers(len(edges))) for letter, edges in exits.items() if letter != final}
        last_exit = {letter: exits[letter][i] for letter, i in last_index.items()}
        if all(reaches_final(letter, last_exit) for letter in last_exit):
            break
    order = {}
    for letter, edges in exits.items():
        if letter == final:
            order[letter] = [edges[i] for i in rng.permutation(len(edges))]
            continue
        others = edges[: last_index[letter]] + edges[last_index[letter] + 1 :]
        order[letter] = [others[i] for i in rng.permutation(len(others))] + [last_exit[letter]]
    position = dict.fromkeys(order, 0)
    letters = [first]
    for _ in range(len(sequence) - 1):
        here = letters[-1]
        letters.append(order[here][position[here]])
        position[here] += 1
    return "".join(letters)
