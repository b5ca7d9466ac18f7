"""AEDAT 3.1 / labels / .npy readers and writers: round trips and malformed files."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from models.egru.gesture import io
from models.egru.gesture.synthetic import SyntheticConfig, make_recording, write_synthetic_dataset
from s2sim.errors import DataError

CFG = SyntheticConfig(duration_us=300_000, repeats=1, gap_us=50_000)


def _events(n=1000, seed=0, t_max=10_000_000):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, t_max, n))
    return io.make_events(rng.integers(0, 128, n), rng.integers(0, 128, n),
                          rng.integers(0, 2, n), t)


def test_aedat_round_trip_exact(tmp_path):
    ev, labels = make_recording(5, CFG)
    path = io.write_aedat31(tmp_path / "user05.aedat", ev, packet_events=777)
    back = io.read_aedat31(path)
    assert back.dtype == io.EVENT_DTYPE
    np.testing.assert_array_equal(back, ev)


def test_aedat_bit_layout_matches_libcaer(tmp_path):
    # One event written by hand the way cAER lays it out: x at bit 17, y at bit 2, pol bit 1,
    # valid bit 0, timestamp int32, and the packet's overflow counter as bits 31+.
    data = (100 << 17) | (7 << 2) | (1 << 1) | 1
    head = struct.pack("<hhiiiiii", 1, 1, 8, 4, 2, 1, 1, 1)
    raw = b"#!AER-DAT3.1\r\n#!END-HEADER\r\n" + head + struct.pack("<Ii", data, 12345)
    ev = io.decode_aedat31(raw)
    assert (int(ev["x"][0]), int(ev["y"][0]), int(ev["p"][0])) == (100, 7, 1)
    assert int(ev["t"][0]) == (2 << 31) | 12345
    # and our writer produces the same bytes for that event
    enc = io.encode_aedat31(ev)
    assert enc.endswith(head + struct.pack("<Ii", data, 12345))


def test_aedat_skips_invalid_and_other_packet_types():
    special = struct.pack("<hhiiiiii", 0, 1, 8, 4, 0, 2, 2, 2) + b"\0" * 16
    data_valid = (3 << 17) | (4 << 2) | 1
    data_invalid = (5 << 17) | (6 << 2)  # valid mark 0: deleted by a filter, must be skipped
    pol = struct.pack("<hhiiiiii", 1, 1, 8, 4, 0, 3, 2, 1) + struct.pack(
        "<IiIi", data_valid, 10, data_invalid, 11) + b"\0" * 8  # capacity 3, number 2
    raw = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#!END-HEADER\r\n" + special + pol
    ev = io.decode_aedat31(raw)
    assert ev.size == 1 and int(ev["x"][0]) == 3 and int(ev["t"][0]) == 10


def test_aedat_timestamps_past_31_bits_round_trip(tmp_path):
    ev = _events(500, t_max=3 * (1 << 31))
    back = io.read_aedat31(io.write_aedat31(tmp_path / "long.aedat", ev))
    np.testing.assert_array_equal(back, ev)


def test_npy_round_trip_and_layout(tmp_path):
    ev = _events(300)
    path = io.write_npy_sample(tmp_path / "s.npy", ev)
    raw = np.load(path)
    assert raw.shape == (300, 4)
    np.testing.assert_array_equal(raw[:, 0], ev["x"])
    np.testing.assert_array_equal(raw[:, 3], ev["t"])
    np.testing.assert_array_equal(io.read_npy_sample(path), ev)


def test_dataset_files_agree(tmp_path):
    (aedat,) = write_synthetic_dataset(tmp_path, [7], CFG)
    ev, labels = io.load_recording(aedat)
    assert len(labels) == io.N_CLASSES
    samples = io.split_recording(ev, labels)
    for k, (lab, sample) in enumerate(samples):
        back = io.read_npy_sample(tmp_path / "npy" / str(lab) / f"user07_{k:02d}.npy")
        np.testing.assert_array_equal(back, sample)
        assert sample.size > 0 and sample["t"].max() < CFG.duration_us


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_bad_header(tmp_path):
    p = tmp_path / "bad.aedat"
    p.write_bytes(b"#!AER-DAT2.0\r\n#!END-HEADER\r\n")
    with pytest.raises(DataError) as e:
        io.read_aedat31(p)
    assert "bad.aedat" in _one_line(e) and "AER-DAT3.1" in str(e.value)
    p.write_bytes(b"#!AER-DAT3.1\r\n#Format: RAW\r\n")
    with pytest.raises(DataError, match="END-HEADER"):
        io.read_aedat31(p)


def test_truncated_event_block(tmp_path):
    ev = _events(100)
    raw = io.encode_aedat31(ev)
    p = tmp_path / "cut.aedat"
    p.write_bytes(raw[:-5])
    with pytest.raises(DataError) as e:
        io.read_aedat31(p)
    assert "truncated event block" in _one_line(e) and "cut.aedat" in str(e.value)
    hdr_end = raw.index(b"#!END-HEADER\r\n") + len(b"#!END-HEADER\r\n")
    p.write_bytes(raw[: hdr_end + 10])
    with pytest.raises(DataError, match="truncated event packet header"):
        io.read_aedat31(p)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        io.read_aedat31(tmp_path / "nope.aedat")


def test_labels_outside_recording(tmp_path):
    ev = _events(100, t_max=1_000_000)
    path = io.write_aedat31(tmp_path / "rec.aedat", ev)
    io.write_labels_csv(io.labels_path_for(path), [io.GestureLabel(2, 10, 5_000_000)])
    with pytest.raises(DataError) as e:
        io.load_recording(path)
    msg = _one_line(e)
    assert "rec_labels.csv" in msg and "outside the recording" in msg and "line 2" in msg


@pytest.mark.parametrize(
    "text, match",
    [
        ("cls,start,end\n1,0,10\n", "header"),
        ("class,startTime_usec,endTime_usec\n12,0,10\n", "class 12"),
        ("class,startTime_usec,endTime_usec\n1,20,10\n", "endTime_usec"),
        ("class,startTime_usec,endTime_usec\n1,a,10\n", "non-integer"),
        ("class,startTime_usec,endTime_usec\n1,0\n", "3 fields"),
    ],
)
def test_malformed_labels(tmp_path, text, match):
    p = tmp_path / "x_labels.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=match):
        io.read_labels_csv(p)


def test_malformed_npy(tmp_path):
    p = tmp_path / "s.npy"
    np.save(p, np.zeros((5, 3), np.int64))
    with pytest.raises(DataError, match=r"shape \(n, 4\)"):
        io.read_npy_sample(p)
    np.save(p, np.array([[200, 0, 0, 0]], np.int64))
    with pytest.raises(DataError, match="field x out of range"):
        io.read_npy_sample(p)
    p.write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable"):
        io.read_npy_sample(p)


def test_writer_leaves_no_partial_file(tmp_path):
    bad = _events(10)[::-1]  # not time-ordered
    with pytest.raises(DataError):
        io.write_aedat31(tmp_path / "x.aedat", bad)
    assert list(tmp_path.iterdir()) == []
