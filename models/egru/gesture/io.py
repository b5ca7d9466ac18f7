"""DVS128 Gesture event I/O: AEDAT 3.1 recordings, `_labels.csv` files, one-`.npy`-per-sample.

Events are held in a numpy structured array of dtype ``EVENT_DTYPE`` with fields
``x`` and ``y`` (pixel address, 0..127 on the DVS128), ``p`` (polarity, 1 = ON, 0 = OFF) and
``t`` (timestamp in microseconds, int64), in time order.

AEDAT 3.1 (the layout the DVS128 Gesture release uses, written by iniVation's cAER):

* ASCII header lines, each starting with ``#`` and ending with CR LF; the first is
  ``#!AER-DAT3.1``, the last ``#!END-HEADER``.
* Then event packets, little-endian. Each packet has a 28-byte header
  ``int16 eventType, int16 eventSource, int32 eventSize, int32 eventTSOffset,
  int32 eventTSOverflow, int32 eventCapacity, int32 eventNumber, int32 eventValid``
  (libcaer ``struct caer_event_packet_header``, CAER_EVENT_PACKET_HEADER_SIZE = 28) followed by
  ``eventCapacity * eventSize`` bytes of events.
* A polarity event (eventType 1) is 8 bytes: ``uint32 data, int32 timestamp``. In ``data``,
  bit 0 is the valid mark, bit 1 the polarity, bits 2..16 the y address and bits 17..31 the x
  address (libcaer ``polarity.h``: POLARITY_SHIFT 1, POLARITY_Y_ADDR_SHIFT 2,
  POLARITY_X_ADDR_SHIFT 17, both address masks 0x7FFF). The full 64-bit timestamp is
  ``(eventTSOverflow << 31) | timestamp`` (libcaer ``TS_OVERFLOW_SHIFT 31``), in microseconds.
  Packets of other event types (special events, IMU, frames) are skipped.

The ``_labels.csv`` file next to each recording has a header line
``class,startTime_usec,endTime_usec`` and one row per gesture; classes are 1..11 in the file and
0..10 in this package.

The preprocessed layout used by several loaders is one ``.npy`` per gesture sample holding an
integer array of shape ``(n_events, 4)`` with columns ``x, y, polarity, t`` (t in microseconds).

Every malformed file raises ``s2sim.errors.DataError`` with a one-line message naming the file and
what is wrong with it (byte offset, packet, field or row).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.egru.atomic import write_bytes_atomic
from models.egru.errors import DataError

EVENT_DTYPE = np.dtype([("x", np.uint16), ("y", np.uint16), ("p", np.uint8), ("t", np.int64)])

SENSOR_WIDTH = 128  # DVS128: 128 x 128 pixels
SENSOR_HEIGHT = 128
N_CLASSES = 11
# Class names in the order of the DVS128 Gesture release (file class k+1 is index k here).
CLASS_NAMES = (
    "hand_clap",
    "right_hand_wave",
    "left_hand_wave",
    "right_arm_clockwise",
    "right_arm_counter_clockwise",
    "left_arm_clockwise",
    "left_arm_counter_clockwise",
    "arm_roll",
    "air_drums",
    "air_guitar",
    "other_gestures",
)

AEDAT31_MAGIC = b"#!AER-DAT3.1"
AEDAT_END_HEADER = b"#!END-HEADER"
PACKET_HEADER_BYTES = 28
PACKET_HEADER_DTYPE = np.dtype(
    [
        ("eventType", "<i2"),
        ("eventSource", "<i2"),
        ("eventSize", "<i4"),
        ("eventTSOffset", "<i4"),
        ("eventTSOverflow", "<i4"),
        ("eventCapacity", "<i4"),
        ("eventNumber", "<i4"),
        ("eventValid", "<i4"),
    ]
)
POLARITY_EVENT_TYPE = 1
POLARITY_EVENT_BYTES = 8
POLARITY_EVENT_DTYPE = np.dtype([("data", "<u4"), ("timestamp", "<i4")])
# Offset of the timestamp inside a polarity event (eventTSOffset in the packet header).
POLARITY_TS_OFFSET = 4
VALID_MARK_MASK = 0x1
POLARITY_SHIFT = 1
Y_ADDR_SHIFT = 2
X_ADDR_SHIFT = 17
ADDR_MASK = 0x7FFF
TS_OVERFLOW_SHIFT = 31
# cAER writes packets of bounded size; we split long recordings the same way so that a reader
# never needs the whole file's events in one packet.
DEFAULT_PACKET_EVENTS = 4096

LABELS_HEADER = "class,startTime_usec,endTime_usec"


def make_events(x, y, p, t) -> np.ndarray:
    """Build an event array from columns, checking ranges (raises DataError, never clips)."""
    x = np.asarray(x)
    y = np.asarray(y)
    p = np.asarray(p)
    t = np.asarray(t)
    n = x.shape[0]
    if not (y.shape == p.shape == t.shape == (n,)) or x.ndim != 1:
        raise DataError(f"event columns have different lengths: x {x.shape}, y {y.shape}, "
                        f"p {p.shape}, t {t.shape}")
    ev = np.empty(n, dtype=EVENT_DTYPE)
    for name, col, hi in (("x", x, SENSOR_WIDTH), ("y", y, SENSOR_HEIGHT), ("p", p, 2)):
        if n and (col.min() < 0 or col.max() >= hi):
            raise DataError(f"event field {name} out of range [0, {hi}): "
                            f"min {col.min()}, max {col.max()}")
        ev[name] = col
    ev["t"] = t
    return ev


# ---------------------------------------------------------------------------------- AEDAT 3.1


def encode_aedat31(events: np.ndarray, source: str = "DVS128", start_time: str = "",
                   packet_events: int = DEFAULT_PACKET_EVENTS) -> bytes:
    """Encode events (EVENT_DTYPE, time-ordered) as the bytes of an AEDAT 3.1 file."""
    events = np.asarray(events, dtype=EVENT_DTYPE)
    if events.size and np.any(np.diff(events["t"]) < 0):
        raise DataError("events are not in time order; AEDAT 3.1 packets need ascending time")
    if events.size and events["t"][0] < 0:
        raise DataError(f"negative event timestamp {events['t'][0]} us cannot be written")
    header_lines = [
        AEDAT31_MAGIC,
        b"#Format: RAW",
        f"#Source 1: {source}".encode("ascii"),
    ]
    if start_time:
        header_lines.append(f"#Start-Time: {start_time}".encode("ascii"))
    header_lines.append(AEDAT_END_HEADER)
    chunks = [b"".join(line + b"\r\n" for line in header_lines)]
    if packet_events < 1:
        raise DataError(f"packet_events must be >= 1, got {packet_events}")
    t = events["t"].astype(np.int64)
    overflow = t >> TS_OVERFLOW_SHIFT
    # A packet holds events of one timestamp-overflow epoch only (the header carries it).
    start = 0
    n = events.size
    while start < n:
        stop = min(start + packet_events, n)
        ovf = overflow[start]
        same = np.nonzero(overflow[start:stop] != ovf)[0]
        if same.size:
            stop = start + int(same[0])
        sl = events[start:stop]
        body = np.empty(sl.size, dtype=POLARITY_EVENT_DTYPE)
        body["data"] = (
            (sl["x"].astype(np.uint32) << X_ADDR_SHIFT)
            | (sl["y"].astype(np.uint32) << Y_ADDR_SHIFT)
            | (sl["p"].astype(np.uint32) << POLARITY_SHIFT)
            | np.uint32(VALID_MARK_MASK)
        )
        body["timestamp"] = (sl["t"] & ((1 << TS_OVERFLOW_SHIFT) - 1)).astype(np.int32)
        head = np.zeros(1, dtype=PACKET_HEADER_DTYPE)
        head["eventType"] = POLARITY_EVENT_TYPE
        head["eventSource"] = 1
        head["eventSize"] = POLARITY_EVENT_BYTES
        head["eventTSOffset"] = POLARITY_TS_OFFSET
        head["eventTSOverflow"] = int(ovf)
        head["eventCapacity"] = sl.size
        head["eventNumber"] = sl.size
        head["eventValid"] = sl.size
        chunks.append(head.tobytes())
        chunks.append(body.tobytes())
        start = stop
    return b"".join(chunks)


def write_aedat31(path: str | Path, events: np.ndarray, source: str = "DVS128",
                  start_time: str = "", packet_events: int = DEFAULT_PACKET_EVENTS) -> Path:
    """Write events as an AEDAT 3.1 file (atomically)."""
    path = Path(path)
    write_bytes_atomic(path, encode_aedat31(events, source, start_time, packet_events))
    return path


def _header_end(raw: bytes, path: Path) -> int:
    """Byte offset of the first event packet; checks the magic line."""
    if not raw.startswith(AEDAT31_MAGIC):
        first = raw[:40].split(b"\n")[0].strip()
        raise DataError(f"{path}: not an AEDAT 3.1 file: first line is {first[:32]!r}, "
                        f"expected {AEDAT31_MAGIC.decode()}")
    pos = 0
    while pos < len(raw) and raw[pos:pos + 1] == b"#":
        nl = raw.find(b"\n", pos)
        if nl < 0:
            raise DataError(f"{path}: header line at byte {pos} has no line end "
                            f"(file truncated inside the header)")
        line = raw[pos:nl].rstrip(b"\r")
        pos = nl + 1
        if line == AEDAT_END_HEADER:
            return pos
    raise DataError(f"{path}: header has no {AEDAT_END_HEADER.decode()} line")


def decode_aedat31(raw: bytes, path: str | Path = "<bytes>") -> np.ndarray:
    """Decode the bytes of an AEDAT 3.1 file into polarity events (valid ones only)."""
    path = Path(path)
    pos = _header_end(raw, path)
    parts = []
    packet = 0
    n_raw = len(raw)
    while pos < n_raw:
        if n_raw - pos < PACKET_HEADER_BYTES:
            raise DataError(f"{path}: truncated event packet header at byte {pos} (packet "
                            f"{packet}): {n_raw - pos} of {PACKET_HEADER_BYTES} bytes")
        head = np.frombuffer(raw, dtype=PACKET_HEADER_DTYPE, count=1, offset=pos)[0]
        size = int(head["eventSize"])
        cap = int(head["eventCapacity"])
        number = int(head["eventNumber"])
        if size <= 0 or cap < 0 or not (0 <= number <= cap):
            raise DataError(f"{path}: bad event packet header at byte {pos} (packet {packet}): "
                            f"eventSize {size}, eventCapacity {cap}, eventNumber {number}")
        body_bytes = size * cap
        start = pos + PACKET_HEADER_BYTES
        if start + body_bytes > n_raw:
            raise DataError(f"{path}: truncated event block in packet {packet} at byte {pos}: "
                            f"needs {body_bytes} bytes, {n_raw - start} left")
        if int(head["eventType"]) == POLARITY_EVENT_TYPE:
            if size != POLARITY_EVENT_BYTES:
                raise DataError(f"{path}: polarity packet {packet} at byte {pos} has eventSize "
                                f"{size}, expected {POLARITY_EVENT_BYTES}")
            body = np.frombuffer(raw, dtype=POLARITY_EVENT_DTYPE, count=number, offset=start)
            valid = (body["data"] & VALID_MARK_MASK).astype(bool)
            body = body[valid]
            ev = np.empty(body.size, dtype=EVENT_DTYPE)
            ev["x"] = (body["data"] >> X_ADDR_SHIFT) & ADDR_MASK
            ev["y"] = (body["data"] >> Y_ADDR_SHIFT) & ADDR_MASK
            ev["p"] = (body["data"] >> POLARITY_SHIFT) & 1
            ev["t"] = (np.int64(int(head["eventTSOverflow"])) << TS_OVERFLOW_SHIFT) | (
                body["timestamp"].astype(np.int64)
            )
            parts.append(ev)
        pos = start + body_bytes
        packet += 1
    if not parts:
        return np.zeros(0, dtype=EVENT_DTYPE)
    return np.concatenate(parts)


def read_aedat31(path: str | Path) -> np.ndarray:
    """Read the polarity events of an AEDAT 3.1 file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: recording not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read recording: {exc.strerror}") from None
    return decode_aedat31(raw, path)


# ---------------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class GestureLabel:
    """One row of a ``_labels.csv`` file; ``label`` is 0-based (file class minus 1)."""

    label: int
    start_us: int
    end_us: int


def labels_path_for(aedat_path: str | Path) -> Path:
    """``user01_fluorescent.aedat`` -> ``user01_fluorescent_labels.csv`` (the release's naming)."""
    p = Path(aedat_path)
    return p.with_name(p.stem + "_labels.csv")


def write_labels_csv(path: str | Path, labels: list[GestureLabel]) -> Path:
    lines = [LABELS_HEADER]
    for lab in labels:
        lines.append(f"{lab.label + 1},{lab.start_us},{lab.end_us}")
    write_bytes_atomic(Path(path), ("\n".join(lines) + "\n").encode("ascii"))
    return Path(path)


def read_labels_csv(path: str | Path, recording: tuple[int, int] | None = None
                    ) -> list[GestureLabel]:
    """Read a ``_labels.csv``; with ``recording=(t_first_us, t_last_us)`` check every gesture
    lies inside it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise DataError(f"{path}: labels file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read labels file: {exc}") from None
    lines = [ln.strip() for ln in text.splitlines()]
    if not lines or lines[0].replace(" ", "") != LABELS_HEADER:
        got = lines[0][:60] if lines else ""
        raise DataError(f"{path}: line 1: expected header {LABELS_HEADER!r}, got {got!r}")
    out = []
    for i, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        fields = line.split(",")
        if len(fields) != 3:
            raise DataError(f"{path}: line {i}: expected 3 fields "
                            f"(class,startTime_usec,endTime_usec), got {len(fields)}")
        try:
            cls, start, end = (int(f) for f in fields)
        except ValueError:
            raise DataError(f"{path}: line {i}: non-integer field in {line!r}") from None
        if not 1 <= cls <= N_CLASSES:
            raise DataError(f"{path}: line {i}: class {cls} outside 1..{N_CLASSES}")
        if end <= start:
            raise DataError(f"{path}: line {i}: endTime_usec {end} <= startTime_usec {start}")
        if recording is not None and (start < recording[0] or end > recording[1]):
            raise DataError(f"{path}: line {i}: gesture [{start}, {end}] us lies outside the "
                            f"recording [{recording[0]}, {recording[1]}] us")
        out.append(GestureLabel(cls - 1, start, end))
    return out


def load_recording(aedat_path: str | Path) -> tuple[np.ndarray, list[GestureLabel]]:
    """Read a recording and its labels; returns (events, labels) with labels checked to lie in
    the recording's time span."""
    events = read_aedat31(aedat_path)
    if events.size == 0:
        raise DataError(f"{aedat_path}: recording has no polarity events")
    span = (int(events["t"][0]), int(events["t"][-1]))
    labels = read_labels_csv(labels_path_for(aedat_path), recording=span)
    return events, labels


def split_recording(events: np.ndarray, labels: list[GestureLabel]
                    ) -> list[tuple[int, np.ndarray]]:
    """Cut a recording into (label, events) samples, events in [start, end) with the sample's
    time re-based to start at 0."""
    t = events["t"]
    out = []
    for lab in labels:
        lo, hi = np.searchsorted(t, [lab.start_us, lab.end_us], side="left")
        sample = events[lo:hi].copy()
        sample["t"] -= lab.start_us
        out.append((lab.label, sample))
    return out


# ---------------------------------------------------------------------------------- .npy


def write_npy_sample(path: str | Path, events: np.ndarray) -> Path:
    """One sample as an int64 array (n, 4) with columns x, y, polarity, t_us."""
    events = np.asarray(events, dtype=EVENT_DTYPE)
    arr = np.stack([events["x"].astype(np.int64), events["y"].astype(np.int64),
                    events["p"].astype(np.int64), events["t"]], axis=1) if events.size else (
        np.zeros((0, 4), dtype=np.int64))
    path = Path(path)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    write_bytes_atomic(path, buf.getvalue())
    return path


def read_npy_sample(path: str | Path) -> np.ndarray:
    """Read one `.npy` sample: (n, 4) integer columns x, y, polarity, t, or a structured array
    with fields x, y, p, t."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: sample file not found") from None
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({str(exc).splitlines()[0]})") from None
    if arr.dtype.names:
        missing = {"x", "y", "p", "t"} - set(arr.dtype.names)
        if missing:
            raise DataError(f"{path}: structured sample lacks fields {sorted(missing)}")
        cols = (arr["x"], arr["y"], arr["p"], arr["t"])
    else:
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise DataError(f"{path}: expected an array of shape (n, 4) with columns "
                            f"x, y, polarity, t; got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise DataError(f"{path}: expected integer columns, got dtype {arr.dtype}")
        cols = (arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
    try:
        ev = make_events(*cols)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    if ev.size and np.any(np.diff(ev["t"]) < 0):
        raise DataError(f"{path}: timestamps are not in ascending order")
    return ev
