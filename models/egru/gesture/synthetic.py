"""Synthetic DVS128 gesture recordings, written in the real formats.

No DVS128 Gesture recordings are available on these machines, so the pipeline is exercised on
event streams made here. **Accuracy on these streams is not accuracy on the real data set**: the
classes are drawn as one or two moving "hands" (discs) whose trajectories resemble the real
gestures; there are no bodies, arms, lighting changes or camera artefacts beyond uniform noise.

How events are made (a crude model of a DVS pixel array watching a moving bright disc):

* A hand is a disc of radius ``r`` pixels at position ``c(t)``, sampled every 1 ms.
* A moving edge makes events in proportion to the pixels it sweeps: in each millisecond a hand
  moving at speed ``|v|`` px/s makes ``Poisson(gain · 2r · |v| · 1 ms)`` events.
* Events sit on the disc's rim, at angles whose density is ∝ |cos| of the angle to the motion
  (edges perpendicular to the motion change most). The leading edge gives ON events, the trailing
  edge OFF events; a small fraction of polarities is flipped (sensor mismatch), positions get
  Gaussian jitter of ``jitter_px``.
* Background activity noise: ``Poisson(noise_hz · 1 ms)`` events per millisecond, uniform over the
  sensor, random polarity (the DVS128's background rate is of this order per pixel array).
* Events that land outside the 128 × 128 array are not seen by the sensor and are dropped
  (geometry, not clipping of valid data).

Subjects: every subject (a seed) has its own body centre, size, speed and noise level, and each
performance of a gesture jitters phase, speed and amplitude. Train and test use disjoint subjects,
as the DVS128 Gesture release does (23 train, 6 test users).

Class 10 ("other gestures") is a smooth random trajectory of one or two hands, different for every
performance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.egru.errors import DataError
from models.egru.gesture.io import (
    CLASS_NAMES,
    EVENT_DTYPE,
    N_CLASSES,
    SENSOR_HEIGHT,
    SENSOR_WIDTH,
    GestureLabel,
    write_aedat31,
    write_labels_csv,
    write_npy_sample,
)

DT_US = 1000  # trajectory sampling step: 1 ms
TRAIN_SUBJECTS = tuple(range(1, 24))  # as the release: users 1..23 train
TEST_SUBJECTS = tuple(range(24, 30))  # users 24..29 test


@dataclass(frozen=True)
class Subject:
    """The person in front of the sensor: fixed for all of their gestures."""

    seed: int
    cx: float  # body centre, pixels
    cy: float
    scale: float  # arm length / hand size factor
    speed: float  # gesture frequency factor
    noise_hz: float  # background events per second, whole array
    gain: float  # events per swept pixel

    @classmethod
    def from_seed(cls, seed: int) -> Subject:
        rng = np.random.default_rng([0x5E57, int(seed)])
        return cls(
            seed=int(seed),
            cx=float(64 + rng.uniform(-8, 8)),
            cy=float(64 + rng.uniform(-6, 6)),
            scale=float(rng.uniform(0.8, 1.2)),
            speed=float(rng.uniform(0.75, 1.35)),
            noise_hz=float(rng.uniform(1000, 4000)),
            gain=float(rng.uniform(2.0, 3.5)),
        )


def _hands(label: int, t_s: np.ndarray, subj: Subject, rng: np.random.Generator):
    """Trajectories of the hands for one performance: list of (pos (n, 2), radius_px).

    Image coordinates: x to the right, y down, as the sensor sees the subject (so the subject's
    right hand is on the image's left side)."""
    f = 1.4 * subj.speed * rng.uniform(0.9, 1.1)  # gesture frequency, Hz
    ph = 2 * np.pi * f * t_s + rng.uniform(0, 2 * np.pi)
    a = subj.scale * rng.uniform(0.9, 1.1)  # amplitude factor
    cx, cy = subj.cx, subj.cy
    r = 6.0 * subj.scale
    n = t_s.size

    def pos(x, y):
        return np.stack([np.broadcast_to(x, (n,)), np.broadcast_to(y, (n,))], axis=1).astype(float)

    if label == 0:  # hand clap: two hands meet at the centre and part again
        d = a * (5 + 13 * (1 + np.cos(ph)) / 2)
        return [(pos(cx - d, cy + 8 * a), r), (pos(cx + d, cy + 8 * a), r)]
    if label in (1, 2):  # hand wave: one raised hand swinging sideways on an arc
        side = -1 if label == 1 else 1
        x = cx + side * 30 * a + 12 * a * np.sin(ph)
        y = cy - 24 * a + 4 * a * np.cos(2 * ph)
        return [(pos(x, y), r)]
    if label in (3, 4, 5, 6):  # whole-arm circles, clockwise or counter-clockwise
        side = -1 if label in (3, 4) else 1
        direction = 1 if label in (3, 5) else -1  # +angle in image coordinates = clockwise
        R = 18 * a
        x = cx + side * 28 * a + R * np.cos(direction * ph)
        y = cy - 4 * a + R * np.sin(direction * ph)
        return [(pos(x, y), r)]
    if label == 7:  # arm roll: forearms rolling around each other in front of the chest
        R = 9 * a
        ph2 = 1.3 * ph
        return [
            (pos(cx + R * np.cos(ph2), cy + 6 * a + R * np.sin(ph2)), r),
            (pos(cx - R * np.cos(ph2), cy + 6 * a - R * np.sin(ph2)), r),
        ]
    if label == 8:  # air drums: two hands beating up and down alternately
        return [
            (pos(cx - 18 * a, cy + 14 * a + 10 * a * np.sin(ph)), r),
            (pos(cx + 18 * a, cy + 14 * a - 10 * a * np.sin(ph)), r),
        ]
    if label == 9:  # air guitar: fast strumming hand, slow fretting hand up on the left
        strum = pos(cx + 6 * a, cy + 10 * a + 11 * a * np.sin(2 * ph))
        fret = pos(cx - 30 * a + 3 * a * np.sin(0.5 * ph), cy - 6 * a + 2 * a * np.cos(0.5 * ph))
        return [(strum, r), (fret, r)]
    if label == 10:  # other gestures: a smooth random trajectory, one or two hands
        hands = []
        for _ in range(int(rng.integers(1, 3))):
            x = cx + rng.uniform(-25, 25) * a
            y = cy + rng.uniform(-20, 20) * a
            for _k in range(3):
                fk = rng.uniform(0.3, 2.0) * subj.speed
                x = x + rng.uniform(3, 12) * a * np.sin(2 * np.pi * fk * t_s + rng.uniform(0, 6.3))
                y = y + rng.uniform(3, 12) * a * np.sin(2 * np.pi * fk * t_s + rng.uniform(0, 6.3))
            hands.append((pos(x, y), r))
        return hands
    raise DataError(f"gesture class {label} outside 0..{N_CLASSES - 1}")


def make_gesture(label: int, subject: Subject | int, duration_us: int,
                 rng: np.random.Generator | int) -> np.ndarray:
    """Events (EVENT_DTYPE, time-ordered, t from 0) of one performance of gesture ``label``."""
    if isinstance(subject, int | np.integer):
        subject = Subject.from_seed(int(subject))
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    if duration_us < DT_US:
        raise DataError(f"gesture duration {duration_us} us is shorter than one step of {DT_US} us")
    n = duration_us // DT_US
    t_s = np.arange(n) * (DT_US * 1e-6)
    xs, ys, ps, ts = [], [], [], []
    for centre, radius in _hands(label, t_s, subject, rng):
        vel = np.gradient(centre, DT_US * 1e-6, axis=0)  # px/s
        speed = np.hypot(vel[:, 0], vel[:, 1])
        counts = rng.poisson(subject.gain * 2 * radius * speed * DT_US * 1e-6)
        total = int(counts.sum())
        if total == 0:
            continue
        step = np.repeat(np.arange(n), counts)
        move_angle = np.arctan2(vel[step, 1], vel[step, 0])
        # density ∝ cos(φ) on (-π/2, π/2): φ = arcsin(U(-1, 1))
        phi = np.arcsin(rng.uniform(-1, 1, total))
        leading = rng.random(total) < 0.5
        ang = move_angle + phi + np.where(leading, 0.0, np.pi)
        pol = np.where(leading, 1, 0)
        flip = rng.random(total) < 0.08
        pol = np.where(flip, 1 - pol, pol)
        x = centre[step, 0] + radius * np.cos(ang) + rng.normal(0, 0.7, total)
        y = centre[step, 1] + radius * np.sin(ang) + rng.normal(0, 0.7, total)
        xs.append(x)
        ys.append(y)
        ps.append(pol)
        ts.append(step * DT_US + rng.integers(0, DT_US, total))
    n_noise = int(rng.poisson(subject.noise_hz * duration_us * 1e-6))
    xs.append(rng.uniform(0, SENSOR_WIDTH, n_noise))
    ys.append(rng.uniform(0, SENSOR_HEIGHT, n_noise))
    ps.append(rng.integers(0, 2, n_noise))
    ts.append(rng.integers(0, duration_us, n_noise))
    x = np.floor(np.concatenate(xs)).astype(np.int64)
    y = np.floor(np.concatenate(ys)).astype(np.int64)
    p = np.concatenate(ps).astype(np.int64)
    t = np.concatenate(ts).astype(np.int64)
    seen = (x >= 0) & (x < SENSOR_WIDTH) & (y >= 0) & (y < SENSOR_HEIGHT)
    x, y, p, t = x[seen], y[seen], p[seen], t[seen]
    order = np.lexsort((x, y, t))  # time order; ties broken by address -> deterministic
    ev = np.empty(order.size, dtype=EVENT_DTYPE)
    ev["x"] = x[order]
    ev["y"] = y[order]
    ev["p"] = p[order]
    ev["t"] = t[order]
    return ev


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes of a synthetic set (defaults keep a CPU training run to a few minutes)."""

    duration_us: int = 1_500_000  # one gesture; the real ones are about 6 s
    repeats: int = 2  # performances of each class per subject
    gap_us: int = 200_000  # noise-only time between gestures in a recording
    seed: int = 0


def make_samples(subjects, config: SyntheticConfig = SyntheticConfig()):
    """In-memory samples: list of (label, subject_seed, events), deterministic in config.seed."""
    out = []
    for s in subjects:
        subj = Subject.from_seed(s)
        for rep in range(config.repeats):
            for label in range(N_CLASSES):
                rng = np.random.default_rng([config.seed, int(s), rep, label])
                out.append((label, int(s), make_gesture(label, subj, config.duration_us, rng)))
    return out


def make_recording(subject: int, config: SyntheticConfig = SyntheticConfig()):
    """One subject's session: all classes × repeats in a shuffled order, separated by noise-only
    gaps, as one event stream with its labels (like one AEDAT file of the release)."""
    subj = Subject.from_seed(subject)
    rng = np.random.default_rng([config.seed, int(subject), 0xA5])
    order = [(rep, lab) for rep in range(config.repeats) for lab in range(N_CLASSES)]
    order = [order[i] for i in rng.permutation(len(order))]
    parts, labels = [], []
    t0 = config.gap_us
    for rep, lab in order:
        g_rng = np.random.default_rng([config.seed, int(subject), rep, lab])
        ev = make_gesture(lab, subj, config.duration_us, g_rng)
        ev["t"] += t0
        parts.append(ev)
        labels.append(GestureLabel(lab, t0, t0 + config.duration_us))
        t0 += config.duration_us + config.gap_us
    # noise in the gaps (and everywhere): the sensor never goes quiet
    gap_n = int(rng.poisson(subj.noise_hz * t0 * 1e-6 * 0.3))
    noise = np.empty(gap_n, dtype=EVENT_DTYPE)
    noise["x"] = rng.integers(0, SENSOR_WIDTH, gap_n)
    noise["y"] = rng.integers(0, SENSOR_HEIGHT, gap_n)
    noise["p"] = rng.integers(0, 2, gap_n)
    noise["t"] = rng.integers(0, t0 + config.gap_us, gap_n)
    parts.append(noise)
    ev = np.concatenate(parts)
    ev = ev[np.lexsort((ev["x"], ev["y"], ev["t"]))]
    return ev, labels


def write_synthetic_dataset(out_dir: str | Path, subjects,
                            config: SyntheticConfig = SyntheticConfig(),
                            npy: bool = True) -> list[Path]:
    """Write ``user{NN}_synthetic.aedat`` + ``_labels.csv`` per subject (the release's layout),
    and with ``npy`` one ``npy/<class>/user{NN}_{k}.npy`` per gesture. Returns the AEDAT paths."""
    from models.egru.gesture.io import split_recording

    out_dir = Path(out_dir)
    paths = []
    for s in subjects:
        ev, labels = make_recording(s, config)
        path = out_dir / f"user{s:02d}_synthetic.aedat"
        write_aedat31(path, ev, source="DVS128 (s2sim synthetic)")
        write_labels_csv(out_dir / f"user{s:02d}_synthetic_labels.csv", labels)
        paths.append(path)
        if npy:
            for k, (lab, sample) in enumerate(split_recording(ev, labels)):
                write_npy_sample(out_dir / "npy" / f"{lab}" / f"user{s:02d}_{k:02d}.npy", sample)
    return paths


__all__ = [
    "Subject",
    "SyntheticConfig",
    "make_gesture",
    "make_samples",
    "make_recording",
    "write_synthetic_dataset",
    "TRAIN_SUBJECTS",
    "TEST_SUBJECTS",
    "CLASS_NAMES",
]
