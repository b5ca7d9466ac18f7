"""Packet queues under the send schedule: a high-activity network whose paced input overlaps the
odd layers' bursts runs without drops; a schedule that cannot hold the activity is refused at
compile time, and the analytic engine flags it when forced through."""

import numpy as np
import pytest

from s2sim.compiler.compile import compile_network
from s2sim.engine import run_mapping
from s2sim.errors import CompileError

# dense 700-wide input (the input source paces 700 events over most of phase 0) and a
# 700-unit second layer firing ~50 % of its units: ~350 events per step reach each receiver
NET = dict(sizes=(64, 700), n_in=700, density=0.1, seed=5, theta_max=0.0)  # `net` (conftest)
INPUTS = dict(seed=1, steps=6)  # `xs` (conftest)


def test_high_activity_net_runs_without_drops(net, xs):
    act = max(float((y != 0).mean()) for y in net.stack.run(xs).ys)
    assert act > 0.4
    m = compile_network(net, tick_period_s="auto", activity=act + 0.05)
    assert m.schedule.input_chunk_events < net.input.n_out
    r = run_mapping(m, xs, engine="des")
    assert r.dropped_packets == 0 and r.mismatches.total == 0
    depth = int(m.load_spec().timing.packet_queue_depth.value)
    peak = r.counts.pe["queue_peak"]  # the most packets waiting at an arrival, per PE and tick
    assert 0 < peak.max() <= depth and r.counts.totals()["queue_peak"] == peak.max()
    a = run_mapping(m, xs, engine="analytic")
    assert a.dropped_packets == 0
    assert a.meta["ticks_over_tolerated_activity"] == 0
    np.testing.assert_array_equal(a.pe_counts["active_cycles"], r.pe_counts["active_cycles"])
    # the input handed to the NoC in one go (mappings from before chunking) holds the event
    # router until its last paced event: the odd layer's bursts pile up and overflow the queues
    m.schedule.input_chunk_events = 0
    old = run_mapping(m, xs, engine="des")
    assert old.dropped_packets > 0 and old.mismatches.total > 0
    # a queue drops only when it is full: every PE and tick with a drop saw it at capacity
    full = old.counts.pe["queue_full"] > 0
    assert full.any() and (old.counts.pe["queue_peak"][full] == depth).all()


def test_schedule_that_cannot_hold_the_activity_is_refused_or_flagged(net, xs):
    small = {"timing.packet_queue_depth": 16}
    with pytest.raises(CompileError, match="cannot hold the assumed activity"):
        compile_network(net, spec_overrides=small, tick_period_s=2e-3)
    m = compile_network(net, spec_overrides=small, tick_period_s="auto", check_schedule=False)
    assert m.schedule.tolerated_activity < m.options["activity"]
    a = run_mapping(m, xs, engine="analytic")
    assert a.dropped_packets > 0 and a.meta["ticks_over_tolerated_activity"] > 0
    assert int(a.pe_counts["queue_full"].sum()) == a.dropped_packets
    d = run_mapping(m, xs, engine="des")
    assert d.dropped_packets > 0
