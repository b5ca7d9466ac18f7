"""Event stream -> per-step input vectors, as the chip sees them.

The chip runs one EGRU time step per 25 ms bin (the frame length of the EGRU gesture recipe,
Subramoney et al. 2023). One step's input is a pooled event frame:

    x_t[p, j, i] = log1p( #events of polarity p in bin t with  y // pool == j,  x // pool == i )

flattened in (polarity, row, column) order, so ``n_in = 2 · (128/pool)²`` (512 at pool 8).

Host vs chip split (what this simulator does, and why):

* **Host** (here, numpy): bins events by time, pools 128 × 128 to (128/pool)², counts, applies
  ``log1p`` and sends the *nonzero* entries of each frame to the chip as (index, value) packets.
  The DVS128 delivers events over USB to a host; on a SpiNNaker2 board the host link
  (1 Gbit/s Ethernet) carries them in. The pooled frame bounds the link traffic at n_in packets
  per bin whatever the event rate (the synthetic streams: ~160 events vs ~67 nonzero cells per
  bin; real recordings have higher event rates, so the saving grows).
* **Chip**: the EGRU layer PEs receive the sparse frame and do only the work of the nonzero
  inputs (rows of W) and of the units that fired (rows of R); a readout PE keeps the output
  trace and computes the 11-way readout of it every step. The host averages the per-step
  readout over the sample and takes the argmax (11 adds per step).

Where the pooling could move on-chip: an input PE receiving raw events would spend a shift, an
add and a store per event (~5 Cortex-M4 cycles) plus the log per nonzero cell at the end of the
bin; at the synthetic rates that is well under 1 % of a 25 ms step at 150 MHz. It is documented
here, not simulated.

The ``log1p`` compresses counts of bursts (a fast hand makes tens of events per cell per bin)
without clipping them; it is part of the model, applied identically in training and on the chip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.egru.errors import DataError
from models.egru.gesture.io import SENSOR_HEIGHT, SENSOR_WIDTH


@dataclass(frozen=True)
class FrameConfig:
    bin_us: int = 25_000  # 25 ms time bins (EGRU gesture recipe)
    pool: int = 8  # 128 / 8 = 16 x 16 cells per polarity
    n_bins: int = 60  # steps per sample (1.5 s); longer samples are cut, shorter ones padded

    @property
    def side(self) -> int:
        return SENSOR_WIDTH // self.pool

    @property
    def n_in(self) -> int:
        return 2 * self.side * self.side

    def check(self) -> None:
        if self.bin_us <= 0:
            raise DataError(f"frame bin_us must be > 0, got {self.bin_us}")
        if self.pool <= 0 or SENSOR_WIDTH % self.pool or SENSOR_HEIGHT % self.pool:
            raise DataError(f"frame pool {self.pool} must divide the sensor size {SENSOR_WIDTH}")
        if self.n_bins <= 0:
            raise DataError(f"frame n_bins must be > 0, got {self.n_bins}")


def event_counts(events: np.ndarray, cfg: FrameConfig = FrameConfig()) -> np.ndarray:
    """Counts (n_bins, 2, side, side) int32 of events per bin, polarity and pooled cell.

    Events at t >= n_bins · bin_us fall outside the window and are not counted (the window is
    the model's input length, stated in ``cfg``); negative times are a data error."""
    cfg.check()
    t = events["t"]
    if t.size and t.min() < 0:
        raise DataError(f"event time {int(t.min())} us < 0: samples must start at t = 0")
    b = t // cfg.bin_us
    keep = b < cfg.n_bins
    side = cfg.side
    idx = (
        (b[keep] * 2 + events["p"][keep].astype(np.int64)) * side
        + events["y"][keep].astype(np.int64) // cfg.pool
    ) * side + events["x"][keep].astype(np.int64) // cfg.pool
    counts = np.bincount(idx, minlength=cfg.n_bins * 2 * side * side)
    return counts.reshape(cfg.n_bins, 2, side, side).astype(np.int32)


def frames(events: np.ndarray, cfg: FrameConfig = FrameConfig()) -> np.ndarray:
    """Input vectors (n_bins, n_in) float32: log1p of the pooled counts (see module doc)."""
    c = event_counts(events, cfg)
    return np.log1p(c.reshape(cfg.n_bins, -1).astype(np.float32)).astype(np.float32)


def batch_frames(samples, cfg: FrameConfig = FrameConfig()) -> tuple[np.ndarray, np.ndarray]:
    """(X (N, T, n_in) float32, labels (N,) int64) from [(label, ..., events)] tuples."""
    xs = np.stack([frames(s[-1], cfg) for s in samples]) if samples else np.zeros(
        (0, cfg.n_bins, cfg.n_in), np.float32)
    ys = np.array([s[0] for s in samples], dtype=np.int64)
    return xs, ys


def frame_packets(x_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The host->chip packets of one step: (indices uint32, values float32) of nonzero inputs."""
    nz = np.flatnonzero(x_t)
    return nz.astype(np.uint32), x_t[nz].astype(np.float32)
