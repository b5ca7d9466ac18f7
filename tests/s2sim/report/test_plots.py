"""Plots: every PNG is written, valid, and byte-identical for the same report."""

from pathlib import Path

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


def test_pe_timeline_from_the_des_ledger_and_skipped_when_binned(tmp_path):
    import numpy as np

    import s2sim
    from s2sim.report.plots import pe_timeline

    net = s2sim.load_network(str(Path(__file__).resolve().parents[2] / "golden" / "tiny_lm.npz"))
    tokens = np.arange(12) % 60
    m = s2sim.compile(net, tick_period_s=100e-6)
    res = s2sim.run(m, tokens, engine="des")
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert pe_timeline(res, m, a) and pe_timeline(res, m, b)
    assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and a.read_bytes() == b.read_bytes()
    res.counts.ticks_per_column = 4  # a long run's binned ledger: no per-tick columns
    assert not pe_timeline(res, m, tmp_path / "c.png") and not (tmp_path / "c.png").exists()
