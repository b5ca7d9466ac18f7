"""Synthetic gesture generator: deterministic, subject-dependent, class-dependent, in range."""

from __future__ import annotations

import numpy as np
import pytest

from models.egru.gesture.io import EVENT_DTYPE, N_CLASSES
from models.egru.gesture.synthetic import (
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    Subject,
    SyntheticConfig,
    make_gesture,
    make_recording,
)
from s2sim.errors import DataError


def test_same_seed_same_events_other_seed_other_events():
    a = make_gesture(3, 5, 500_000, 7)
    b = make_gesture(3, 5, 500_000, 7)
    c = make_gesture(3, 5, 500_000, 8)
    assert a.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(a, b)
    assert a.size != c.size or not np.array_equal(a, c)


def test_events_in_range_and_time_ordered():
    for label in range(N_CLASSES):
        ev = make_gesture(label, 1, 300_000, label)
        assert ev.size > 500
        assert ev["x"].max() < 128 and ev["y"].max() < 128 and set(np.unique(ev["p"])) <= {0, 1}
        assert np.all(np.diff(ev["t"]) >= 0) and ev["t"].min() >= 0 and ev["t"].max() < 300_000


def test_subjects_differ_and_splits_are_disjoint():
    assert not set(TRAIN_SUBJECTS) & set(TEST_SUBJECTS)
    s1, s2 = Subject.from_seed(1), Subject.from_seed(2)
    assert (s1.cx, s1.speed) != (s2.cx, s2.speed)


def test_wave_sides_mirror():
    # right hand wave sits on the image's left, left hand wave on its right (camera view)
    right = make_gesture(1, 3, 600_000, 0)
    left = make_gesture(2, 3, 600_000, 0)
    assert np.median(right["x"]) < 64 < np.median(left["x"])


def test_recording_labels_cover_each_class():
    ev, labels = make_recording(4, SyntheticConfig(duration_us=200_000, repeats=2, gap_us=50_000))
    assert sorted(lab.label for lab in labels) == sorted(list(range(N_CLASSES)) * 2)
    assert labels[-1].end_us <= ev["t"][-1]
    assert np.all(np.diff(ev["t"]) >= 0)


def test_unknown_class_is_an_error():
    with pytest.raises(DataError, match="class 11"):
        make_gesture(11, 1, 100_000, 0)
