"""glm_core.intervals: position keys across chromosomes, interval cover queries, merging.

Facts checked: keys sort by chromosome, then position, and split back into both; every
interval reported as covering a point does cover it (nested and overlapping intervals
included), and none is missed; union merging joins overlapping and touching intervals
while abutting merging leaves overlaps apart (a frameshift's shared base stays read twice).
"""

import numpy as np
import pandas as pd

from glm_core.intervals import POSITION_BITS, CoveringIntervals, merge_per_group, position_keys, split_position_keys


def test_position_keys_sort_by_chromosome_then_position_and_split_back():
    codes = np.array([2, 0, 1, 0, 35])
    positions = np.array([5, 7, 0, 3, 1_000_000_000])
    keys = position_keys(codes, positions)
    assert np.argsort(keys).tolist() == [3, 1, 2, 0, 4]
    assert keys[1] == 7 and keys[0] == (2 << POSITION_BITS) + 5
    back_codes, back_positions = split_position_keys(keys)
    np.testing.assert_array_equal(back_codes, codes)
    np.testing.assert_array_equal(back_positions, positions)


def test_covering_intervals_finds_nested_and_overlapping_intervals():
    starts = np.array([0, 10, 12, 30, 5])
    ends = np.array([100, 20, 14, 40, 8])
    index = CoveringIntervals(starts, ends)
    points = np.array([13, 50, 100, 6, -1])
    found = index.first_covering(points)
    assert all(starts[i] <= p < ends[i] for p, i in zip(points, found) if i >= 0)
    assert found[2] == -1 and found[4] == -1
    point, interval = index.all_covering(points)
    pairs = sorted(zip(point.tolist(), interval.tolist()))
    assert pairs == [(0, 0), (0, 1), (0, 2), (1, 0), (3, 0), (3, 4)]


def test_covering_intervals_agree_with_brute_force_and_handle_no_intervals():
    rng = np.random.default_rng(0)
    starts = rng.integers(0, 200, 60)
    ends = starts + rng.integers(1, 40, 60)
    points = np.arange(-5, 250)
    point, interval = CoveringIntervals(starts, ends).all_covering(points)
    brute = sorted((p, i) for p in range(len(points)) for i in range(60) if starts[i] <= points[p] < ends[i])
    assert sorted(zip(point.tolist(), interval.tolist())) == brute
    empty = CoveringIntervals(np.zeros(0), np.zeros(0))
    assert empty.first_covering(points).tolist() == [-1] * len(points)
    assert [len(a) for a in empty.all_covering(points)] == [0, 0]


def test_merge_per_group_union_and_abutting():
    table = pd.DataFrame(
        {
            "transcript_id": ["t1", "t1", "t1", "t1", "t2"],
            "start": [0, 10, 19, 30, 5],
            "end": [10, 20, 25, 40, 8],
            "phase": [0, 1, 2, 0, 0],
        }
    )
    union = merge_per_group(table, "transcript_id", join="union")
    assert union.values.tolist() == [["t1", 0, 25], ["t1", 30, 40], ["t2", 5, 8]]
    abutting = merge_per_group(table, "transcript_id", join="abutting", keep={"phase": "first"})
    # [0,10) and [10,20) touch: joined; [19,25) overlaps [10,20) by a base: kept apart.
    assert abutting.values.tolist() == [["t1", 0, 20, 0], ["t1", 19, 25, 2], ["t1", 30, 40, 0], ["t2", 5, 8, 0]]
    assert table["start"].tolist() == [0, 10, 19, 30, 5]  # the caller's table is unchanged
    assert merge_per_group(table.head(0), "transcript_id", join="union").empty
