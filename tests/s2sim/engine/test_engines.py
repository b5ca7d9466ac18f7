"""The engines against the numpy oracle, and against each other."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2sim.compiler.compile import compile_network
from s2sim.compiler.random_net import random_network
from s2sim.engine import run_mapping
from s2sim.errors import S2SimError

SMALL_SRAM = {"memory.data_sram_bytes": 12000}


NET = dict(sizes=(40, 30), n_in=20, density=0.3, seed=3, readout_out=3)  # `net` (conftest)
INPUTS = dict(seed=1, steps=12)  # `xs` (conftest)


def _assert_same_as_oracle(r, net, xs, atol=1e-5):
    ref = net.stack.run(xs)
    if r.engine == "des":
        assert r.mismatches.compared and r.mismatches.not_checked is None
    else:  # the outputs are the reference's own: reported as not checked, never as 0
        assert not r.mismatches.compared and "reference's own" in r.mismatches.not_checked
        assert r.mismatches.to_dict()["event_mismatches"] is None
    for a, b in zip(r.layer_outputs, ref.ys, strict=True):
        assert np.array_equal(a != 0, b != 0), "same events"
        np.testing.assert_allclose(a, b, atol=atol)
    assert r.mismatches.total == 0 and r.mismatches.first_mismatch is None


@pytest.mark.parametrize("engine", ["functional", "analytic", "des"])
def test_engines_equal_oracle_on_small_net(net, xs, engine):
    m = compile_network(net, spec_overrides=SMALL_SRAM)
    r = run_mapping(m, xs, engine=engine)
    _assert_same_as_oracle(r, net, xs)
    assert r.events_per_step.sum() > 0 and r.events_per_step.shape == (12, 2)
    np.testing.assert_allclose(r.readout, xs.shape[0] and
                               (net.stack.run(xs).ys[-1] @ net.readout.weights.T
                                + net.readout.bias), atol=1e-5)
    if engine == "functional":
        assert r.latency_ps is None and r.energy_j is None
    else:
        assert r.energy_j > 0 and (r.latency_ps > 0).all()
        assert r.dropped_packets == 0 and r.tick_overruns == 0


def test_des_outputs_reach_host_and_latency_is_the_pipeline(net, xs):
    m = compile_network(net, spec_overrides=SMALL_SRAM)
    r = run_mapping(m, xs, engine="des")
    np.testing.assert_array_equal(r.outputs, r.layer_outputs[-1])
    P = m.tick_period_ps
    depth = m.n_layers + 2
    assert (r.latency_ps >= depth * P).all() and (r.latency_ps < (depth + 1) * P).all()
    assert r.meta["missing_host_outputs"] == 0


def test_analytic_counts_equal_des_counts(net, xs):
    m = compile_network(net, spec_overrides=SMALL_SRAM)
    d = run_mapping(m, xs, engine="des")
    a = run_mapping(m, xs, engine="analytic")
    for k in ("active_cycles", "packets_sent", "packets_received", "cpu_macs",
              "sram_read_bytes", "sram_written_bytes", "exp_calls"):
        np.testing.assert_array_equal(a.pe_counts[k], d.pe_counts[k], err_msg=k)
    np.testing.assert_array_equal(a.packets_per_step, d.packets_per_step)
    np.testing.assert_array_equal(a.hops_per_step, d.hops_per_step)
    assert a.meta["noc_hops_total"] == d.meta["noc_hops_total"] == int(d.hops_per_step.sum())
    assert a.energy_j == pytest.approx(d.energy_j, rel=1e-6)
    assert np.abs(a.latency_ps - d.latency_ps).max() < 1e6  # within 1 us


def test_two_slices_on_one_pe_run_as_a_composite(net, xs):
    m0 = compile_network(net)
    table = dict(m0.placement)
    table["L1.S0"] = table["L0.S0"]  # big SRAM: both fit on one PE
    m = compile_network(net, placer=table)
    assert len(m.pes_used()) == len(m.slices) - 1
    r = run_mapping(m, xs, engine="des")
    _assert_same_as_oracle(r, net, xs)


def test_runs_are_deterministic(net, xs):
    m = compile_network(net, spec_overrides=SMALL_SRAM)
    a = run_mapping(m, xs, engine="des").summary()
    b = run_mapping(m, xs, engine="des").summary()
    assert a == b


def test_long_sequence_mismatches_are_counted_not_hidden(net):
    """A tick too short for the send schedule makes packets late: the run reports them and
    the oracle comparison counts the event mismatches they cause."""
    xs = np.random.default_rng(5).standard_normal((40, 20)).astype(np.float32)
    m = compile_network(net, tick_period_s=40e-6, cycle_headroom=0.0, check_schedule=False)
    r = run_mapping(m, xs, engine="des")
    mm = r.mismatches
    assert mm.late_packets > 0
    assert mm.event_mismatches == sum(mm.per_layer_event_mismatches) > 0
    assert mm.first_mismatch is not None and mm.diverged_steps == 40 - mm.first_mismatch[0]
    assert r.summary()["mismatches"]["late_packets"] == mm.late_packets
    ok = run_mapping(compile_network(net), xs, engine="des")  # the spec's 1 ms tick
    assert ok.mismatches.total == 0 and ok.mismatches.late_packets == 0


def test_token_inputs_use_the_host_embedding():
    base = random_network(sizes=(16,), n_in=8, density=0.5, seed=1)
    emb = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    from s2sim.compiler.ir import Network

    net = Network.from_layers(base.layers, embedding=emb)
    m = compile_network(net)
    toks = np.array([3, 7, 7, 49, 0])
    r = run_mapping(m, toks, engine="des")
    ref = net.stack.run(emb[toks])
    np.testing.assert_allclose(r.outputs, ref.ys[-1], atol=1e-5)
    assert r.host.embedding_lookups == 5 and r.host.bytes_to_chip > 0
    with pytest.raises(S2SimError, match="token id out of range"):
        run_mapping(m, np.array([50]))
    with pytest.raises(S2SimError, match="inputs: shape"):
        run_mapping(m, np.zeros((3, 5), np.float32))
    with pytest.raises(S2SimError, match="no steps"):
        run_mapping(m, np.zeros((0, 8), np.float32))
    with pytest.raises(S2SimError, match="engine 'gpu' unknown"):
        run_mapping(m, toks, engine="gpu")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(4, 24), min_size=1, max_size=3),
       n_in=st.integers(2, 16), density=st.floats(0.05, 0.8), seed=st.integers(0, 10_000),
       partitioner=st.sampled_from(["by_units", "interleaved"]),
       placer=st.sampled_from(["locality", "linear", "random"]),
       sram=st.sampled_from([3000, 6000, 98304]))
def test_outputs_do_not_depend_on_the_mapping(sizes, n_in, density, seed, partitioner, placer,
                                              sram):
    """Property: whatever the partition and placement, the chip computes the oracle's outputs.
    An event may differ only where the oracle's c is within float32 rounding of θ."""
    net = random_network(sizes=tuple(sizes), n_in=n_in, density=density, seed=seed)
    try:
        m = compile_network(net, partitioner=partitioner, placer=placer, seed=seed,
                            spec_overrides={"memory.data_sram_bytes": sram})
    except S2SimError:
        return  # a unit too large for the tiny SRAM: refused at compile time, nothing to run
    xs = np.random.default_rng(seed).standard_normal((6, n_in)).astype(np.float32)
    r = run_mapping(m, xs, engine="des")
    ref = net.stack.run(xs)
    assert r.mismatches.late_packets == 0 and r.dropped_packets == 0
    for i, (a, b) in enumerate(zip(r.layer_outputs, ref.ys, strict=True)):
        diff = (a != 0) != (b != 0)
        if diff.any():  # only a near-threshold flip is acceptable, and then states diverge
            t, u = np.argwhere(diff)[0]
            c_pre = ref.cs[i][t, u] + (net.layers[i].theta[u] if b[t, u] else 0)
            assert abs(c_pre - net.layers[i].theta[u]) < 1e-5
            return
        np.testing.assert_allclose(a, b, atol=1e-5)
