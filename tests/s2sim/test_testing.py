"""s2sim.testing.assert_report_close on a real (golden) report."""

from pathlib import Path

import pytest

from s2sim.report.io import load_report
from s2sim.testing import assert_report_close

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "lm-tiny-analytic" / "report.json"


@pytest.fixture
def golden():
    if not GOLDEN.is_file():
        pytest.skip("golden report missing: python tests/golden/regenerate.py")
    return load_report(GOLDEN)


def test_same_report_is_close(golden):
    assert_report_close(golden, GOLDEN, rtol=0.0)


def test_worse_energy_fails_naming_the_metric(golden):
    worse = golden.model_copy(deep=True)
    worse.s2.energy_per_step_j *= 1.05
    with pytest.raises(AssertionError, match=r"s2\.energy_per_step_j"):
        assert_report_close(worse, golden, rtol=0.02)
    assert_report_close(worse, golden, rtol=0.06)  # within a looser tolerance


def test_metric_selection_and_one_sided(golden):
    better = golden.model_copy(deep=True)
    better.s2.hops_per_step_mean *= 0.5
    with pytest.raises(AssertionError, match="hops_per_step_mean"):
        assert_report_close(better, golden)
    assert_report_close(better, golden, both_ways=False)
    assert_report_close(better, golden, metrics=["s2.energy*"])


def test_missing_section_fails(golden):
    partial = golden.model_copy(deep=True)
    partial.quality = None
    partial.gpu = partial.gpu[:1]
    partial.ratios = partial.ratios[:1]
    with pytest.raises(AssertionError, match="removed"):
        assert_report_close(partial, golden)
