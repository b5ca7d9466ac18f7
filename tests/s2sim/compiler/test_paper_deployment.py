"""The paper's deployment: the paper-shape LM (3 x EGRU 1350/1350/750, 95 % pruned, float32,
activity 0.465/0.465/0.307) compiles onto one chip in at most 150 PEs with at most 96 KiB of data
per PE, at the shortest tick that holds its send schedule (at the spec's 1 ms tick the schedule
of this activity does not fit at PL1 and the compiler refuses it), and runs on the DES with no
dropped packet and the oracle's outputs."""

import time

import numpy as np
import pytest

from s2sim.compiler.compile import compile_network
from s2sim.compiler.ir import Network
from s2sim.engine import run_mapping


@pytest.fixture(scope="module")
def paper():
    return Network.paper_shape(seed=0)


@pytest.fixture(scope="module")
def mapping(paper):
    return compile_network(paper, max_pes=150, tick_period_s="auto")


def test_paper_shape_fits_150_pes_and_96_kib(paper):
    t0 = time.perf_counter()
    m = compile_network(paper, max_pes=150, tick_period_s="auto")
    wall = time.perf_counter() - t0
    sm = m.summary()
    print(f"paper-shape: {sm['pes_used']} PEs, largest footprint {sm['largest_pe_bytes']} B, "
          f"compile {wall:.2f} s")
    assert m.layer_sizes == [1350, 1350, 750]
    assert sm["pes_used"] <= 150
    assert sm["largest_pe_bytes"] <= 96 * 1024
    assert max(s.est_cycles_per_step for s in m.slices) <= m.cycles_per_tick
    assert m.schedule.est_end_cycles <= m.cycles_per_tick
    assert wall < 10
    # the schedule holds more than the model's recorded activity (0.465)
    assert m.schedule.tolerated_activity >= m.options["activity"] > 0.465
    # every weight is on the chip exactly once
    nnz = sum(int(np.count_nonzero(la.W)) + int(np.count_nonzero(la.R)) for la in paper.layers)
    assert sum(s.nnz_w + s.nnz_r for s in m.slices) == nnz


def test_paper_shape_at_the_slow_level_fits_with_a_longer_tick(paper):
    m = compile_network(paper, max_pes=150, pl=0, tick_period_s="auto")
    assert len(m.pes_used()) <= 150 and max(m.pe_bytes().values()) <= 96 * 1024
    assert m.required_cycles_per_tick <= m.cycles_per_tick


def test_paper_shape_runs_on_the_analytic_engine(mapping):
    toks = np.random.default_rng(0).integers(0, 33278, 4)
    r = run_mapping(mapping, toks, engine="analytic")
    assert r.mismatches.total == 0 and r.tick_overruns == 0 and r.energy_j > 0
    assert r.dropped_packets == 0 and r.meta["ticks_over_tolerated_activity"] == 0


def test_paper_shape_runs_on_the_des_without_drops(mapping):
    toks = np.random.default_rng(0).integers(0, 33278, 6)
    r = run_mapping(mapping, toks, engine="des")
    assert r.dropped_packets == 0 and r.mismatches.late_packets == 0
    assert r.mismatches.total == 0 and r.tick_overruns == 0
    assert r.meta["missing_host_outputs"] == 0 and r.meta["unsent_events"] == 0


def test_paper_shape_at_1ms_is_refused_and_flagged_when_forced(paper):
    from s2sim.errors import CompileError

    with pytest.raises(CompileError, match="send schedule overruns the tick"):
        compile_network(paper, max_pes=150)
    m = compile_network(paper, max_pes=150, check_schedule=False)
    toks = np.random.default_rng(0).integers(0, 33278, 3)
    a = run_mapping(m, toks, engine="analytic")
    assert a.meta["schedule_overruns_tick"]
