"""BED window files: file order, classes, and errors that name the line."""

import pandas as pd
import pytest

from glm_core.bed import UNLABELLED, windows_from_bed


def test_bed_windows_keep_file_order_and_classes(tmp_path):
    bed = tmp_path / "regions.bed"
    bed.write_text("track name=x\n# comment\nchr01\t0\t100\tCDS\nchr02\t500\t600\n\nchr01\t10\t20\t.\textra\n")
    expected = pd.DataFrame(
        {
            "chrom": ["chr01", "chr02", "chr01"],
            "start": [0, 500, 10],
            "end": [100, 600, 20],
            "region_class": ["CDS", UNLABELLED, UNLABELLED],
        }
    )
    pd.testing.assert_frame_equal(windows_from_bed(bed), expected)


@pytest.mark.parametrize(
    "text, message",
    [
        ("chr01\t0\t100\tA\nchr01\t100\n", "line 2: a BED line needs chrom, start and end"),
        ("chr01\t0\t100\tA\nchr01\t1,000\t2000\n", "line 2: start and end must be whole numbers"),
        ("chr01\t50\t50\tA\n", "line 1: BED intervals need 0 <= start < end"),
        ("# only a comment\n", "no intervals found"),
    ],
)
def test_bad_bed_lines_are_named(tmp_path, text, message):
    bed = tmp_path / "bad.bed"
    bed.write_text(text)
    with pytest.raises(ValueError, match=message):
        windows_from_bed(bed)
