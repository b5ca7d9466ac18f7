"""Frames as the chip sees them: pooled counts per 25 ms bin and polarity."""

from __future__ import annotations

import numpy as np
import pytest

from models.egru.gesture.io import make_events
from models.egru.gesture.preprocess import FrameConfig, event_counts, frame_packets, frames
from s2sim.errors import DataError


def test_counts_land_in_the_right_bin_cell_and_polarity():
    cfg = FrameConfig(bin_us=25_000, pool=8, n_bins=4)
    ev = make_events([0, 7, 8, 127], [0, 7, 0, 127], [1, 1, 0, 0], [0, 24_999, 25_000, 99_999])
    c = event_counts(ev, cfg)
    assert c.shape == (4, 2, 16, 16) and c.sum() == 4
    assert c[0, 1, 0, 0] == 2  # (0,0) and (7,7) pool into cell (0,0), ON, bin 0
    assert c[1, 0, 0, 1] == 1  # x=8 -> column 1, OFF, bin 1
    assert c[3, 0, 15, 15] == 1


def test_events_after_the_window_are_not_counted_and_negative_times_rejected():
    cfg = FrameConfig(n_bins=2)
    ev = make_events([1, 1], [1, 1], [0, 0], [0, 50_000])
    assert event_counts(ev, cfg).sum() == 1
    with pytest.raises(DataError, match="< 0"):
        event_counts(make_events([1], [1], [0], [-5]), cfg)


def test_frames_are_log1p_and_packets_are_the_nonzeros():
    cfg = FrameConfig(n_bins=1)
    ev = make_events([3] * 5 + [100], [3] * 5 + [100], [1] * 6, [10] * 6)
    x = frames(ev, cfg)[0]
    assert x.dtype == np.float32 and x.shape == (cfg.n_in,)
    idx, val = frame_packets(x)
    assert len(idx) == 2
    np.testing.assert_allclose(sorted(val), sorted([np.log1p(5), np.log1p(1)]), rtol=1e-6)


def test_bad_config():
    with pytest.raises(DataError, match="pool"):
        FrameConfig(pool=5).check()
