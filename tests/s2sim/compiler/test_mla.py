"""--mla (s2sim.compiler.mla): the int8 first layer's input product on the MLA."""

from pathlib import Path

import numpy as np
import pytest

from firmware_py.cost import MLA_SETUP_CYCLES
from firmware_py.kinds.egru_slice import mla_macs
from models.egru.checkpoint import load_checkpoint
from s2sim.compiler.compile import compile_network
from s2sim.compiler.ir import Network
from s2sim.compiler.mla import check_mla
from s2sim.compiler.precision import network_for_precision
from s2sim.engine import run_mapping
from s2sim.errors import CompileError

TINY = Path(__file__).resolve().parents[2] / "golden" / "tiny_lm.npz"


@pytest.fixture(scope="module")
def net8():
    return network_for_precision(Network.from_lm(load_checkpoint(TINY), name="tiny"), "int8")


@pytest.fixture(scope="module")
def runs(net8):
    toks = np.arange(24) % net8.input.embedding.shape[0]
    out = {}
    for mode in ("on", "off"):
        m = compile_network(net8, precision="int8", mla=mode, tick_period_s=60e-6)
        out[mode] = (m, run_mapping(m, toks, engine="des", network=net8),
                     run_mapping(m, toks, engine="analytic", network=net8))
    return out


def test_on_puts_every_layer0_slice_on_the_mla_with_its_dense_slice(runs, net8):
    m = runs["on"][0]
    for s in m.slices:
        if s.kind == "egru":
            assert ("w_dense" in s.regions) == (s.layer == 0)
            if s.layer == 0:
                assert s.regions["w_dense"] >= s.n_in * 3 * len(s.units)
                assert "w_vals" not in s.regions and mla_macs(s) == s.n_in * 3 * len(s.units)
    assert not any("w_dense" in s.regions for s in runs["off"][0].slices)


def test_the_mla_gives_the_integer_reference_bit_for_bit(runs):
    (_, des_on, _), (_, des_off, _) = runs["on"], runs["off"]
    for r in (des_on, des_off):
        assert r.mismatches.event_mismatches == 0 and r.mismatches.value_mismatches == 0
        assert r.mismatches.late_packets == 0
    for a, b in zip(des_on.layer_outputs, des_off.layer_outputs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_mla_macs_are_priced_as_their_own_energy_and_the_engines_agree(runs):
    m, des, ana = runs["on"]
    steps = des.n_steps
    macs = sum(mla_macs(s) for s in m.slices) * steps
    assert int(des.counts.pl["macs"].sum()) == macs == int(ana.counts.pl["macs"].sum())
    spec = m.load_spec()
    e_mac = float(spec.performance_levels[m.pl].mla_energy_j_per_mac.value)
    e = des.energy.as_dict()["components_j"]
    assert e["mla"] == pytest.approx(macs * e_mac)
    assert ana.energy_j == pytest.approx(des.energy_j, rel=1e-9)
    off = runs["off"][1]
    assert off.energy.as_dict()["components_j"]["mla"] == 0.0
    assert des.pe_counts["cpu_macs"].sum() < off.pe_counts["cpu_macs"].sum()
    assert MLA_SETUP_CYCLES > 0


def test_bad_modes_are_refused(net8):
    with pytest.raises(CompileError, match="choose auto, on or off"):
        check_mla("sometimes", "int8")
    with pytest.raises(CompileError, match="needs --precision int8"):
        check_mla("on", "fp32")
    check_mla("auto", "fp32")  # auto on fp32: nothing to do
