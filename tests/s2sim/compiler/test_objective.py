"""Deployment control: --pes N, the objectives, the index width."""

import pytest

from firmware_py.kinds.base import align_up
from s2sim.compiler.compile import compile_network
from s2sim.compiler.objective import estimated_step_energy_j
from s2sim.compiler.random_net import random_network
from s2sim.errors import CompileError

NET = dict(sizes=(120, 80), n_in=40, density=0.2, seed=5)  # `net` (conftest)


def test_pes_spreads_over_exactly_n_pes(net):
    fewest = compile_network(net)
    n = len(fewest.pes_used()) + 9
    m = compile_network(net, pes=n)
    assert len(m.pes_used()) == n and m.options["pes"] == n
    assert max(m.pe_bytes().values()) <= max(fewest.pe_bytes().values())
    work = max(s.est_cycles_per_step for s in m.slices if s.kind == "egru")
    assert work < max(s.est_cycles_per_step for s in fewest.slices if s.kind == "egru")
    m.validate()


@pytest.mark.parametrize("bad", [0, 3, 151, 999])
def test_pes_out_of_range_is_refused(net, bad):
    with pytest.raises(CompileError, match="--pes"):
        compile_network(net, pes=bad)


def test_latency_objective_uses_every_usable_pe_and_shortens_the_auto_tick(net):
    fewest = compile_network(net, tick_period_s="auto")
    fast = compile_network(net, tick_period_s="auto", objective="latency")
    usable = int(fast.load_spec().organisation.usable_pes.value)
    assert len(fast.pes_used()) == min(usable, 2 + 200)
    assert fast.tick_period_ps < fewest.tick_period_ps
    assert fast.options["objective"] == "latency"


def test_energy_objective_picks_the_cheapest_estimate(net):
    best = compile_network(net, tick_period_s="auto", objective="energy")
    e = estimated_step_energy_j(best, best.load_spec())
    for other in (compile_network(net, tick_period_s="auto"),
                  compile_network(net, tick_period_s="auto", objective="latency")):
        assert e <= estimated_step_energy_j(other, other.load_spec()) + 1e-15
    assert best.options["objective"] == "energy"


def test_unknown_objective_is_refused(net):
    with pytest.raises(CompileError, match="objective"):
        compile_network(net, objective="speed")


def test_index_bits_change_the_weight_regions(net):
    m16 = compile_network(net, pes=10)
    m32 = compile_network(net, pes=10, index_bits=32)
    align = int(m16.load_spec().memory.sram_alignment_bytes.value)
    for a, b in zip(m16.slices, m32.slices, strict=True):
        if a.kind == "egru":
            assert a.regions["w_cols"] == align_up(2 * a.nnz_w, align)
            assert b.regions["w_cols"] == align_up(4 * b.nnz_w, align)
            assert b.regions["w_vals"] == align_up(4 * b.nnz_w, align)
    with pytest.raises(CompileError, match="index-bits"):
        compile_network(net, index_bits=12)


def test_the_published_150_pes_validate_although_usable_pes_is_148():
    wide = random_network(sizes=(160, 40), n_in=20, density=0.1, seed=1)
    m = compile_network(wide, pes=150)
    assert int(m.load_spec().organisation.usable_pes.value) < 150 == len(m.pes_used())
    m.validate()  # the engines' check accepts what the compiler was asked for
