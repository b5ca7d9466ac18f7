"""Test helpers for users of s2sim: compare reports in pytest with a clear failure message."""

from __future__ import annotations

from pathlib import Path

from s2sim.report.diff import diff_reports, format_changes
from s2sim.report.io import load_report
from s2sim.report.schema import Report


def assert_report_close(
    actual: Report | str | Path,
    expected: Report | str | Path,
    rtol: float = 0.02,
    metrics: list[str] | None = None,
    both_ways: bool = True,
) -> None:
    """Fail if a metric of ``actual`` is worse than ``expected`` beyond ``rtol``.

    With ``both_ways`` (default) a change beyond ``rtol`` in the *better* direction fails too:
    a golden report pins the numbers, and an unexplained improvement is as suspect as a
    regression (regenerate the golden file when the change is intended). Metrics present in one
    report only also fail. GPU baselines and other neutral metrics must match within ``rtol``.
    """
    a = actual if isinstance(actual, Report) else load_report(actual)
    e = expected if isinstance(expected, Report) else load_report(expected)
    changes = diff_reports(e, a, rtol=rtol, metrics=metrics)
    bad = []
    for c in changes:
        if c.verdict == "worse" or c.verdict in ("added", "removed"):
            bad.append(c)
        elif both_ways and abs(c.rel_change) > rtol:
            bad.append(c)
    if bad:
        raise AssertionError(
            f"reports differ beyond rtol {rtol} in {len(bad)} metric(s):\n" + format_changes(bad)
        )
