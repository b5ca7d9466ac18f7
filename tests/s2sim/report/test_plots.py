"""Plots: every PNG is written, valid, and byte-identical for the same report."""

from s2sim.report.io import write_report
from s2sim.report.plots import PLOTS


def test_plots_written_and_deterministic(tmp_path, sample_report):
    a, b = tmp_path / "a", tmp_path / "b"
    write_report(sample_report, a)
    write_report(sample_report, b)
    for name in PLOTS:
        data = (a / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert data == (b / name).read_bytes(), name
