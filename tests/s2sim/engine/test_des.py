"""The discrete-event engine (s2sim.engine.des): outputs through the host link, latency, its
host-side decoding and the tick check."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from firmware_py.pipeline import readout_first_tick, run_ticks
from s2sim.compiler.compile import compile_network
from s2sim.engine.common import prepare_run
from s2sim.engine.des import _host_outputs, run_des
from s2sim.errors import S2SimError
from s2sim.spec import with_overrides

NET = dict(sizes=(20, 16), n_in=8, density=0.4, seed=91)  # `net` (conftest)
INPUTS = dict(seed=4, steps=7)  # `xs` (conftest)


@pytest.fixture(scope="module")
def mapping(net):
    return compile_network(net, spec_overrides={"memory.data_sram_bytes": 9000})


def test_outputs_reach_the_host_and_equal_the_oracle(net, xs, mapping):
    r = run_des(prepare_run(mapping, xs, network=net))
    ref = net.stack.run(xs)
    for got, want in zip(r.layer_outputs, ref.ys, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_array_equal(r.outputs, r.layer_outputs[-1])
    assert r.readout is None  # no readout weights: events go to the host
    assert r.meta["missing_host_outputs"] == 0 and r.meta["host_output_mismatches"] == 0
    assert r.meta["n_ticks"] == run_ticks(7, 2) and r.meta["undelivered"] == 0
    P = mapping.tick_period_ps
    depth = readout_first_tick(2)
    assert ((r.latency_ps >= depth * P) & (r.latency_ps < (depth + 1) * P)).all()
    assert r.host.packets_to_chip > 0 and r.host.bytes_from_chip > 0
    assert r.mismatches.late_packets == 0


def test_a_spec_with_another_tick_is_refused(net, xs, mapping):
    run = prepare_run(mapping, xs, network=net)
    other = with_overrides(run.spec, {"timing.tick_period_s": 2e-3})
    with pytest.raises(S2SimError, match="mapping tick .* differs from the spec's 2000000000 ps"):
        run_des(dataclasses.replace(run, spec=other))


def test_host_outputs_decode_the_readout_messages():
    run = SimpleNamespace(mapping=SimpleNamespace(layer_sizes=[4], readout_n_out=2,
                                                  decoder_on_chip=False), n_steps=3)
    P = 1000
    rx = [(2 * P + 70, 9, 40, (2, np.array([1, 3]), np.array([0.5, 0.25]), np.array([1.0, 2.0]))),
          (0 * P + 50, 9, 30, (0, np.array([0]), np.array([1.5]), np.array([3.0, 4.0]))),
          (9 * P, 9, 99, (7, np.array([0]), np.array([9.0])))]  # a step past the run: ignored
    outputs, readout, latency, nbytes, tokens = _host_outputs(run, rx, P)
    assert tokens is None
    assert outputs.tolist() == [[1.5, 0, 0, 0], [0, 0, 0, 0], [0, 0.5, 0, 0.25]]
    assert readout.tolist() == [[3.0, 4.0], [0, 0], [1.0, 2.0]]
    assert latency.tolist() == [50, -1, 70]  # -1: step 1 never reached the host
    assert nbytes == 70


def test_weights_edited_between_runs_reach_the_cores_and_the_oracle():
    """A run checks the CSR against W and R once (prepare_run) and its DES cores and oracle
    use that check: an in-place edit between two runs is in both (the second run's layer
    outputs equal a fresh stack's of the edited weights, 0 mismatches)."""
    from s2sim.compiler.random_net import random_network
    from s2sim.engine.run import run_mapping

    net = random_network(**NET)
    m = compile_network(net, spec_overrides={"memory.data_sram_bytes": 9000})
    xs = np.random.default_rng(4).standard_normal((7, 8)).astype(np.float32)
    first = run_mapping(m, xs, engine="des")
    net.layers[0].W[:, :] *= 1.5
    second = run_mapping(m, xs, engine="des")
    assert first.mismatches.total == 0 and second.mismatches.total == 0
    from models.egru.reference import EGRULayer, EGRUStack

    fresh = [EGRULayer(la.W.copy(), la.R.copy(), la.b_x, la.b_r, la.theta) for la in net.layers]
    want = EGRUStack(fresh).run(xs).ys
    for got, w in zip(second.layer_outputs, want, strict=True):
        np.testing.assert_allclose(got, w, atol=1e-5)
    assert not np.array_equal(first.layer_outputs[0], second.layer_outputs[0])
