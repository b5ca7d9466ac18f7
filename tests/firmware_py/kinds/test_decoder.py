"""The decoder-block core kind: CSC blocks, lookup, the oracle's argmax, the argmax readout."""

import numpy as np
import pytest

from firmware_py.kinds.decoder import (
    BlockTable,
    block_regions,
    chip_decoder_tokens,
    table_value_bytes,
)


def _table(V=50, D=12, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.standard_normal((V, D)).astype(np.float32)
    t[rng.random((V, D)) > density] = 0
    return t


def test_block_csc_holds_exactly_its_rows_and_lookup_finds_each_row():
    t = _table()
    rows = np.arange(10, 30)
    blk = BlockTable(t, np.zeros(50, np.float32), rows)
    assert blk.nnz == np.count_nonzero(t[rows])
    for j in range(t.shape[1]):
        local, vals = blk.column(j)
        assert np.all(np.diff(local) > 0)  # ascending rows per column
        assert np.array_equal(t[rows[local], j], vals)
    for r in range(rows.size):
        cols, vals, probes = blk.lookup(r)
        assert np.array_equal(cols, np.flatnonzero(t[rows[r]]))
        assert np.array_equal(vals, t[rows[r], cols])
        assert probes >= 0


def test_value_bytes_follow_the_table_and_regions_count_them():
    t = _table()
    assert table_value_bytes(t) == 4
    assert table_value_bytes(t.astype(np.float16).astype(np.float32)) == 2
    r2 = block_regions(20, 12, 100, 2, 4)
    r4 = block_regions(20, 12, 100, 4, 4)
    assert r4["values"] - r2["values"] == 200 and r2["row_idx"] == 200
    assert r2["logits"] == 2 * 4 * 20 and r2["bias"] == 80


def test_oracle_tokens_are_the_argmax_of_the_full_logits():
    t = _table(V=80, D=10, density=0.5, seed=3)
    b = np.random.default_rng(4).standard_normal(80).astype(np.float32)
    y = np.random.default_rng(5).standard_normal((7, 10)).astype(np.float32)
    y[y < 0.3] = 0
    y[2] = 0  # nothing fired: the bias decides
    got = chip_decoder_tokens(y, t, b)
    assert np.array_equal(got, np.argmax(y @ t.T + b, axis=1))
    assert got[2] == int(np.argmax(b))


class _PE:
    def __init__(self, tick):
        self.tick = tick
        self.sent = []

    def count(self, **kw):
        pass

    def charge(self, c):
        pass

    def to_host(self, nbytes, payload=None):
        self.sent.append((nbytes, payload))


def test_argmax_readout_keeps_the_best_block_and_breaks_ties_by_the_lower_row():
    from firmware_py.cost import CostModel
    from firmware_py.keys import DECODER_SRC, key_base, make_keys
    from firmware_py.kinds.readout import TOKEN_MESSAGE_BYTES, ArgmaxReadoutProgram, decode_token
    from s2sim.spec import load_spec

    prog = ArgmaxReadoutProgram(CostModel(load_spec()), {}, first_tick=5, last_tick=9)
    pe = _PE(tick=6)
    keys = np.concatenate([make_keys(key_base(DECODER_SRC, k), np.array([0]), 0)
                           for k in range(3)])
    logits = np.array([1.5, 2.0, 2.0], np.float32)
    rows = np.array([3, 900, 400], np.uint32)
    payloads = np.stack([logits.view(np.uint32), rows], axis=1)
    prog.on_packets(pe, keys, payloads)
    prog.on_tick(pe, 7)  # closes parity 0: step 2
    nbytes, payload = pe.sent[-1]
    assert nbytes == TOKEN_MESSAGE_BYTES and decode_token(payload) == (2, 400)
    late = _PE(tick=7)  # parity 1 tick: the parity-0 packets are late
    prog.on_packets(late, keys[:1], payloads[:1])
    assert prog.late_packets == 1


@pytest.mark.parametrize("V,D", [(1, 4), (40, 1)])
def test_tiny_tables(V, D):
    t = _table(V=V, D=D, density=1.0)
    blk = BlockTable(t, np.zeros(V, np.float32), np.arange(V))
    assert blk.nnz == V * D
