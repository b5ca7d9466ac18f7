"""--precision (s2sim.compiler.precision): the int8 network of an LM, refusals, and what int8
changes in a compiled mapping."""

from pathlib import Path

import numpy as np
import pytest

from models.egru.checkpoint import load_checkpoint
from s2sim.compiler.compile import compile_network
from s2sim.compiler.ir import Network
from s2sim.compiler.precision import check_precision, network_for_precision, oracle_trace
from s2sim.errors import CompileError

TINY = Path(__file__).resolve().parents[2] / "golden" / "tiny_lm.npz"


@pytest.fixture(scope="module")
def lm_net():
    return Network.from_lm(load_checkpoint(TINY), name="tiny")


def test_fp32_is_the_network_itself(lm_net):
    assert network_for_precision(lm_net, "fp32") is lm_net
    check_precision("fp32", lm_net)


def test_int8_network_holds_the_integer_stack_and_the_input_codes(lm_net):
    q = network_for_precision(lm_net, "int8")
    assert q.quant is not None and q.name == "tiny-int8"
    codes = q.input.embedding
    assert codes.dtype == np.float32 and np.array_equal(codes, np.rint(codes))
    assert np.abs(codes).max() <= 127
    for layer, ql in zip(q.layers, q.quant.layers, strict=True):
        assert np.count_nonzero(layer.W) == np.count_nonzero(ql.Wq)
    assert network_for_precision(q, "int8") is q  # already quantised
    xs = codes[np.arange(12) % codes.shape[0]]
    tr = oracle_trace(q, xs, trace=True)
    ref = q.quant.run(np.rint(xs).astype(np.int64))
    for y, want in zip(tr.ys, ref.real_ys(), strict=True):
        np.testing.assert_array_equal(y, want)
    assert len(tr.traces) == len(tr.ys)


def test_refusals_are_compile_errors(lm_net):
    q = network_for_precision(lm_net, "int8")
    with pytest.raises(CompileError, match="is float32"):
        check_precision("int8", lm_net)
    with pytest.raises(CompileError, match="int8-quantised"):
        check_precision("fp32", q)
    with pytest.raises(CompileError, match="choose fp32 or int8"):
        network_for_precision(lm_net, "int4")
    with pytest.raises(CompileError, match="--decoder chip"):
        network_for_precision(lm_net, "int8", decoder="chip")
    with pytest.raises(CompileError, match="is float32"):
        compile_network(lm_net, precision="int8")


def test_int8_mapping_records_its_precision_and_a_quarter_of_the_weight_bytes(lm_net):
    fp = compile_network(lm_net)
    q = compile_network(network_for_precision(lm_net, "int8"), precision="int8", mla="off")
    assert "precision" not in fp.options and "mla" not in fp.options
    assert q.options["precision"] == "int8" and q.options["mla"] == "off"

    def vals(m):  # weight-value bytes (regions aligned to 4 B)
        return sum(s.regions["w_vals"] + s.regions["r_vals"] for s in m.slices
                   if s.kind == "egru")

    nnz = sum(np.count_nonzero(la.W) + np.count_nonzero(la.R) for la in lm_net.layers)
    assert vals(fp) >= 4 * nnz and vals(q) >= nnz  # + each region's alignment padding
    assert 3 * vals(q) < vals(fp)
    assert all("sigmoid_lut" in s.regions for s in q.slices if s.kind == "egru")
