"""The int8 EGRU slice (firmware_py.kinds.egru_int8): SRAM, stated packet cycles, and the DES
running int8 deployments with no event mismatch against the integer reference."""

from pathlib import Path

import numpy as np
import pytest

from firmware_py.keys import egru_src, key_base, make_keys
from firmware_py.kinds.egru_int8 import LUT_BYTES, build_int8_cores, int8_slice_regions
from firmware_py.kinds.egru_slice import build_cores, slice_regions
from models.egru.checkpoint import load_checkpoint
from s2sim.compiler.compile import compile_network
from s2sim.compiler.ir import Network
from s2sim.compiler.precision import network_for_precision
from s2sim.engine import run_mapping

TINY = Path(__file__).resolve().parents[2] / "golden" / "tiny_lm.npz"


def test_int8_regions_store_one_byte_per_weight_value_and_the_sigmoid_table():
    args = (64, 96, 20, 3000, 2500, 4, 4)
    f = slice_regions(*args, 4, 2)
    q = slice_regions(*args, 4, 2, "int8")
    assert q["w_vals"] == 3000 and f["w_vals"] == 4 * 3000
    assert q["r_vals"] == 2500 and q["w_cols"] == f["w_cols"]
    assert q["sigmoid_lut"] == LUT_BYTES == 2048
    assert sum(q.values()) < sum(f.values()) - 2 * 5500
    raw = int8_slice_regions(*args, 2)
    assert all(q[k] >= v and q[k] % 4 == 0 for k, v in raw.items())


@pytest.fixture(scope="module")
def tiny_int8():
    lm = load_checkpoint(TINY)
    net = network_for_precision(Network.from_lm(lm, name="tiny"), "int8")
    return net, compile_network(net, precision="int8")


def test_int8_cores_state_the_cycles_their_events_cost(tiny_int8):
    net, mapping = tiny_int8
    cores = build_int8_cores(mapping, net)
    float_cores = build_cores(mapping, Network.from_lm(load_checkpoint(TINY), name="tiny"))
    s = mapping.layer_slices(1)[0]
    core = cores[s.id]
    rng = np.random.default_rng(3)
    prev = mapping.layer_slices(0)
    keys = np.concatenate([
        make_keys(key_base(egru_src(0), 0), rng.choice(len(prev[0].units), 5, replace=False), 1),
        make_keys(key_base(egru_src(1), 0), np.arange(3), 1),
        make_keys(key_base(egru_src(1), 0), np.arange(2), 0)])  # late: the other parity
    xs = np.full(keys.size, 0.5, np.float32)
    stated = core.event_cycles(keys, 1, 40, 7, 11)
    cycles, ok, late, nnz = core.on_events(keys, xs, 1, 40, 7, 11)
    np.testing.assert_array_equal(stated, cycles)
    assert (ok, late) == (8, 2) and nnz > 0 and (cycles[-2:] == 11).all()
    # the same row pointers as the float slice wherever no weight rounded to zero
    assert core.W.rowptr.shape == float_cores[s.id].W.rowptr.shape
    assert core.acc.dtype == np.int64 and core.acc.any()


def test_des_runs_the_tiny_int8_lm_as_the_integer_reference(tiny_int8):
    net, mapping = tiny_int8
    toks = np.arange(30) % net.input.embedding.shape[0]
    r = run_mapping(mapping, toks, engine="des", network=net)
    assert r.mismatches.event_mismatches == 0 and r.mismatches.value_mismatches == 0
    ref = net.quant.run(np.rint(net.input.embedding[toks]).astype(np.int64))
    for got, want in zip(r.layer_outputs, ref.real_ys(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert sum(int(np.count_nonzero(y)) for y in ref.ys) > 0


def _des_int8(model: str, steps: int):
    from s2sim.commands.compile import load_network

    net = network_for_precision(load_network(model), "int8")
    fp = compile_network(load_network(model), tick_period_s="auto")  # the estimate
    mapping = compile_network(net, precision="int8", tick_period_s="auto")  # the estimate
    toks = np.random.default_rng(0).integers(0, net.input.embedding.shape[0], steps)
    return fp, mapping, run_mapping(mapping, toks, engine="des", network=net)


def test_des_runs_the_small_ptb_model_at_int8_with_no_mismatch():
    fp, mapping, r = _des_int8("small", 25)
    m = r.mismatches
    assert m.compared and m.event_mismatches == 0 and m.value_mismatches == 0
    assert m.late_packets == 0 and r.meta["undelivered"] == 0
    assert len(mapping.pes_used()) <= len(fp.pes_used())


def test_des_runs_the_paper_shape_at_int8_with_no_mismatch_on_fewer_pes():
    fp, mapping, r = _des_int8("paper", 8)
    m = r.mismatches
    assert m.compared and m.event_mismatches == 0 and m.value_mismatches == 0
    assert m.late_packets == 0 and r.meta["undelivered"] == 0
    assert len(mapping.pes_used()) < 0.7 * len(fp.pes_used())
    # --mla auto: a 95 %-pruned layer-0 slice stored densely does not fit a PE
    assert not any("w_dense" in s.regions for s in mapping.slices)
