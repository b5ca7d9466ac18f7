"""The functional engine (s2sim.engine.functional): the oracle, no time/traffic/energy, and the
host's work (embedding lookups, tied decoder)."""

import numpy as np

from s2sim.compiler.compile import compile_network
from s2sim.compiler.ir import InputSource, Network, Readout
from s2sim.compiler.random_net import random_network
from s2sim.engine.common import prepare_run
from s2sim.engine.functional import host_work, run_functional

NET = dict(sizes=(20, 12), n_in=8, density=0.4, seed=101, readout_out=3)  # `net` (conftest)
INPUTS = dict(seed=5, steps=6)  # `xs` (conftest)


def test_is_the_oracle_whatever_the_mapping(net, xs):
    ref = net.stack.run(xs)
    results = [run_functional(prepare_run(compile_network(net, partitioner=p, spec_overrides={
        "memory.data_sram_bytes": 9000}), xs, network=net)) for p in ("by_units", "interleaved")]
    for r in results:
        assert r.engine == "functional" and r.n_layers == 2 and r.n_steps == 6
        for got, want in zip(r.layer_outputs, ref.ys, strict=True):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(r.readout, ref.ys[-1] @ net.readout.weights.T
                                   + net.readout.bias, atol=1e-6)
        for field in ("latency_ps", "energy_j", "packets_per_step", "pe_counts", "counts"):
            assert getattr(r, field) is None, field
    assert results[0].summary() == results[1].summary()


def test_host_work_of_a_language_model():
    base = random_network(sizes=(10,), n_in=4, seed=2)
    emb = np.random.default_rng(0).standard_normal((7, 4)).astype(np.float32)
    lm = Network(layers=base.layers, input=InputSource(4, embedding=emb),
                 readout=Readout(10, host_decoder="tied"))
    run = prepare_run(compile_network(lm), np.array([1, 2, 3, 6]))
    ys_last = np.zeros((4, 10), np.float32)
    ys_last[0, :3] = 1
    hw = host_work(run, ys_last)
    assert hw.embedding_lookups == 4 and hw.decoder_macs == 3 * 7
    r = run_functional(run)
    assert r.host.decoder_macs == int(np.count_nonzero(r.outputs)) * 7
    # vectors instead of tokens: no lookups; no tied decoder: no decoder MACs
    assert host_work(prepare_run(compile_network(lm), emb[[1, 2]]), ys_last).embedding_lookups == 0
    plain = random_network(sizes=(10,), n_in=4, seed=2)
    run2 = prepare_run(compile_network(plain), np.ones((2, 4), np.float32))
    assert host_work(run2, ys_last).decoder_macs == 0
