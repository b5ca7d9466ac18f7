"""The golden workloads still give their pinned reports (determinism + no silent drift).

A failure lists the metrics that moved. If the change is intended, regenerate with
``python tests/golden/regenerate.py`` and commit the new reports with the change.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import GOLDEN_DIR, TINY_CHECKPOINT, WORKLOADS, argv  # noqa: E402

from s2sim.cli import main  # noqa: E402
from s2sim.testing import assert_report_close  # noqa: E402


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_golden_report(tmp_path, name):
    golden = GOLDEN_DIR / name / "report.json"
    if not golden.is_file() or not TINY_CHECKPOINT.is_file():
        pytest.fail(f"golden report {golden} missing: run python tests/golden/regenerate.py")
    assert main(argv(name, tmp_path)) == 0
    # the simulator is deterministic: the same workload gives the same numbers
    assert_report_close(tmp_path / "report.json", golden, rtol=1e-9)
