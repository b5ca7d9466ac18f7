"""The readout kind: its core collects a step's events per parity and computes on-chip outputs;
its host message size and decoding."""

import numpy as np

from firmware_py.kinds.readout import (
    EVENT_BYTES,
    HEADER_BYTES,
    ReadoutCore,
    decode_message,
    message_bytes,
    regions,
)


def test_core_collects_per_parity():
    c = ReadoutCore(6, {0: np.array([0, 1, 2]), 1: np.array([3, 4, 5])})
    c.receive(np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([2, 0, 1]),
              np.array([1.0, 2.0, 3.0], np.float32))
    units, vals, out = c.close(0)
    assert list(units) == [2, 3] and list(vals) == [1.0, 2.0] and out is None
    assert list(c.close(1)[0]) == [4]
    assert c.close(0)[0].size == 0


def test_core_with_weights_computes_outputs():
    W = np.array([[1, 0], [0, 2]], np.float32)
    c = ReadoutCore(2, {0: np.array([0, 1])}, weights=W, bias=np.array([0.5, 0], np.float32))
    c.receive(np.array([0]), np.array([1]), np.array([1]), np.array([3.0], np.float32))
    _, _, out = c.close(1)
    assert list(out) == [0.5, 6.0]


def test_message_bytes_and_decode():
    assert list(message_bytes(np.array([0, 3]), 0, False)) == [HEADER_BYTES,
                                                              HEADER_BYTES + 3 * EVENT_BYTES]
    assert list(message_bytes(np.array([0, 3]), 11, True)) == [HEADER_BYTES + 44] * 2
    step, units, vals, out = decode_message((4, np.array([1]), np.array([2.0])))
    assert step == 4 and out is None
    assert "weights" in regions(5, 3, True, False, 4) and "trace" not in regions(5, 3, True,
                                                                                 False, 4)
