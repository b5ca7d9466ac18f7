"""The multicast key layout: encode and decode are inverse."""

import numpy as np

from firmware_py.keys import HOST_SRC, decode, egru_src, key_base, make_keys


def test_key_encode_decode():
    base = key_base(egru_src(2), 17)
    k = make_keys(base, np.array([0, 5, 0x7FFF]), 1)
    src, sl, par, loc = decode(k)
    assert list(src) == [3, 3, 3] and list(sl) == [17] * 3 and list(par) == [1] * 3
    assert list(loc) == [0, 5, 0x7FFF]


def test_parity_is_one_bit():
    src, _, par, loc = decode(make_keys(key_base(HOST_SRC, 0), np.array([4]), 3))
    assert list(src) == [HOST_SRC] and list(par) == [1] and list(loc) == [4]
