"""The analytic engine (s2sim.engine.analytic): the DES's per-PE counts without simulating
events, and its latency = pipeline depth + readout handler + NoC path + host link."""

import numpy as np
import pytest

from firmware_py.pipeline import readout_first_tick, run_ticks
from s2sim.compiler.compile import compile_network
from s2sim.engine.analytic import run_analytic
from s2sim.engine.common import prepare_run, route_geometry
from s2sim.engine.des import run_des
from s2sim.hw.dvfs import cycles_to_ps

# three layers, so both send phases have senders; a readout with weights (fixed message size)
NET = dict(sizes=(24, 18, 12), n_in=10, density=0.35, seed=71, readout_out=2)  # `net` (conftest)
INPUTS = dict(seed=3, steps=8)  # `xs` (conftest)


@pytest.fixture(scope="module")
def mapping(net):
    return compile_network(net, spec_overrides={"memory.data_sram_bytes": 9000}, placer="random",
                           seed=2)


def test_same_per_pe_counts_as_the_des(net, xs, mapping):
    assert len(mapping.layer_slices(0)) > 1
    a = run_analytic(prepare_run(mapping, xs, network=net))
    d = run_des(prepare_run(mapping, xs, network=net))
    assert a.pe_ids == d.pe_ids == mapping.pes_used()
    for k in ("active_cycles", "packets_sent", "packets_received", "cpu_macs", "exp_calls"):
        np.testing.assert_array_equal(a.pe_counts[k], d.pe_counts[k], err_msg=k)
    np.testing.assert_array_equal(a.max_step_cycles, d.max_step_cycles)
    np.testing.assert_array_equal(a.hops_per_step, d.hops_per_step)
    assert a.meta["noc_packets_total"] == d.meta["noc_packets_total"]
    assert a.dropped_packets == d.dropped_packets == 0
    assert a.energy_j == pytest.approx(d.energy_j, rel=1e-6)


def test_outputs_are_the_oracle_and_run_length_the_pipeline(net, xs, mapping):
    a = run_analytic(prepare_run(mapping, xs, network=net))
    ref = net.stack.run(xs)
    for got, want in zip(a.layer_outputs, ref.ys, strict=True):
        np.testing.assert_array_equal(got, want)
    n_ticks = run_ticks(xs.shape[0], len(net.layers))
    assert a.meta["n_ticks"] == n_ticks and a.sim_time_ps == n_ticks * mapping.tick_period_ps
    assert a.meta["schedule_overruns_tick"] is False
    assert a.tick_overruns == 0


def test_latency_is_pipeline_depth_plus_the_readout_path(net, xs, mapping):
    spec = mapping.load_spec()
    P = mapping.tick_period_ps
    depth = readout_first_tick(len(net.layers)) * P
    a = run_analytic(prepare_run(mapping, xs, network=net))
    extra = a.latency_ps - depth
    assert (extra > 0).all() and (extra < P).all()
    assert len(set(extra.tolist())) == 1  # a readout with weights: same message every step
    # moving the readout away from the bridge adds exactly the extra hops to the host
    bridge_pe = compile_network(net, spec_overrides={"memory.data_sram_bytes": 9000}
                                ).placement["readout"]
    near = compile_network(net, spec_overrides={"memory.data_sram_bytes": 9000},
                           placer="random", seed=2, pins={"readout": bridge_pe})
    far_hops = route_geometry(mapping, spec)["to_host"]
    near_hops = route_geometry(near, spec)["to_host"]
    assert near_hops == 0 < far_hops
    b = run_analytic(prepare_run(near, xs, network=net))
    hop_ps = cycles_to_ps(int(spec.noc.cycles_per_hop.value), float(spec.noc.frequency_hz.value))
    np.testing.assert_array_equal(a.latency_ps - b.latency_ps, (far_hops - near_hops) * hop_ps)


def test_same_sram_bytes_as_the_des_when_host_packets_are_padded(net, xs, mapping):
    assert net.input.n_out % 4 != 0
    a = run_analytic(prepare_run(mapping, xs, network=net))
    d = run_des(prepare_run(mapping, xs, network=net))
    for k in ("sram_read_bytes", "sram_written_bytes"):
        np.testing.assert_array_equal(a.pe_counts[k], d.pe_counts[k], err_msg=k)


@pytest.mark.parametrize("window, max_columns", [(7, 5), (1, 3), (13, 4096)])
def test_a_long_run_counted_window_by_window_gives_the_same_figures(monkeypatch, window,
                                                                    max_columns):
    """Windows of steps (reference continued from the previous window's state) and a binned
    ledger change nothing but the ledger's column width."""
    import s2sim.engine.analytic as analytic
    from s2sim.compiler.compile import compile_network
    from s2sim.compiler.random_net import random_network
    from s2sim.engine.run import run_mapping

    net = random_network(sizes=(40, 24), n_in=16, density=0.3, seed=9)
    m = compile_network(net, tick_period_s="auto")
    xs = np.random.default_rng(2).standard_normal((45, 16)).astype(np.float32)
    whole = run_mapping(m, xs, engine="analytic")
    monkeypatch.setattr(analytic, "WINDOW_STEPS", window)
    monkeypatch.setattr(analytic, "MAX_COLUMNS", max_columns)
    r = run_mapping(m, xs, engine="analytic")
    assert r.energy_j == pytest.approx(whole.energy_j, rel=1e-12)
    for k in whole.pe_counts:
        np.testing.assert_array_equal(r.pe_counts[k], whole.pe_counts[k], err_msg=k)
    for k in ("latency_ps", "packets_per_step", "hops_per_step", "events_per_step",
              "effective_macs_per_step", "max_step_cycles"):
        np.testing.assert_array_equal(getattr(r, k), getattr(whole, k), err_msg=k)
    assert r.activation_sparsity == whole.activation_sparsity
    for k in ("noc_hops_total", "late_ticks_est", "queue_peak_packets_est"):
        assert r.meta[k] == whole.meta[k], k
    assert r.counts.pe["active_cycles"].shape[1] <= max(max_columns, 45 + 4)
    assert r.outputs.shape[0] == 0 and whole.outputs.shape[0] == 45  # long runs keep no outputs


def test_a_long_run_keeps_every_tick_when_asked(monkeypatch):
    """``tick_columns=0``: a long run's ledger has one column per tick, the same columns as
    the whole run counted at once; ``tick_columns=N``: at most N; bad values are refused."""
    import s2sim.engine.analytic as analytic
    from s2sim.compiler.compile import compile_network
    from s2sim.compiler.random_net import random_network
    from s2sim.engine.run import run_mapping
    from s2sim.errors import S2SimError

    net = random_network(sizes=(40, 24), n_in=16, density=0.3, seed=9)
    m = compile_network(net, tick_period_s="auto")
    xs = np.random.default_rng(2).standard_normal((45, 16)).astype(np.float32)
    whole = run_mapping(m, xs, engine="analytic")
    monkeypatch.setattr(analytic, "WINDOW_STEPS", 7)
    monkeypatch.setattr(analytic, "MAX_COLUMNS", 5)
    binned = run_mapping(m, xs, engine="analytic")
    every = run_mapping(m, xs, engine="analytic", tick_columns=0)
    assert binned.counts.ticks_per_column > 1 and every.counts.ticks_per_column == 1
    for k in whole.counts.pe:
        np.testing.assert_array_equal(every.counts.pe[k], whole.counts.pe[k], err_msg=k)
    assert every.energy_j == pytest.approx(binned.energy_j, rel=1e-12)
    three = run_mapping(m, xs, engine="analytic", tick_columns=3)
    assert three.counts.pe["active_cycles"].shape[1] <= 3
    for bad in (-1, 2.5, True, "all"):
        with pytest.raises(S2SimError, match="tick_columns"):
            run_mapping(m, xs, engine="analytic", tick_columns=bad)
