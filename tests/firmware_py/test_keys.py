"""The multicast key layout: encode and decode are inverse."""

import numpy as np

from firmware_py.keys import (
    HOST_SRC,
    MAX_SLICES,
    UNIT_MASK,
    decode,
    egru_src,
    key_base,
    make_keys,
)


def test_key_encode_decode():
    for sl_index in (17, MAX_SLICES - 1):
        base = key_base(egru_src(2), sl_index)
        k = make_keys(base, np.array([0, 5, UNIT_MASK]), 1)
        src, sl, par, loc = decode(k)
        assert list(src) == [3, 3, 3] and list(sl) == [sl_index] * 3 and list(par) == [1] * 3
        assert list(loc) == [0, 5, UNIT_MASK]


def test_parity_is_one_bit():
    src, _, par, loc = decode(make_keys(key_base(HOST_SRC, 0), np.array([4]), 3))
    assert list(src) == [HOST_SRC] and list(par) == [1] and list(loc) == [4]
