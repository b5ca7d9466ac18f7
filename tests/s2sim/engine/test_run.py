"""run_mapping (s2sim.engine.run): the one entry point of all engines."""

import numpy as np
import pytest

from s2sim.compiler.compile import compile_network
from s2sim.compiler.mapping import Mapping
from s2sim.compiler.random_net import random_network
from s2sim.engine import run_mapping
from s2sim.errors import CompileError, S2SimError

NET = dict(sizes=(16, 12), n_in=6, density=0.4, seed=111)  # `net` (conftest)
INPUTS = dict(seed=6, steps=5)  # `xs` (conftest)


def test_unknown_engine(net, xs):
    with pytest.raises(S2SimError, match="engine 'gpu' unknown: choose one of functional, "
                                         "analytic, des"):
        run_mapping(compile_network(net), xs, engine="gpu")


def test_compare_and_meta(net, xs):
    m = compile_network(net)
    r = run_mapping(m, xs, engine="des")
    assert r.engine == "des" and r.mismatches.compared and r.mismatches.total == 0
    a = run_mapping(m, xs, engine="analytic")  # its outputs are the reference's: not checked
    assert not a.mismatches.compared and a.mismatches.not_checked
    assert r.meta["network_fingerprint"] == m.network_fingerprint == net.fingerprint()
    assert r.meta["inputs_shape"] == [5, 6] and r.wall_s > 0
    assert not run_mapping(m, xs, compare=False).mismatches.compared


def test_a_mapping_from_json_needs_its_network(net, xs):
    m = Mapping.from_json(compile_network(net).to_json())
    with pytest.raises(CompileError, match="no network_ref"):
        run_mapping(m, xs)
    other = random_network(sizes=(16, 12), n_in=6, density=0.4, seed=112)
    with pytest.raises(CompileError, match="does not match the mapping"):
        run_mapping(m, xs, network=other)
    r = run_mapping(m, xs, network=net)
    np.testing.assert_array_equal(r.outputs, net.stack.run(xs).ys[-1])


def test_a_long_analytic_run_remembered_is_reused_only_while_nothing_changed(monkeypatch):
    """The tick check's whole-input analytic run is the command's run (same mapping, network
    weights and inputs); anything else runs afresh, with the same figures."""
    import s2sim.engine.analytic as analytic
    from s2sim.engine.run import remember_analytic

    monkeypatch.setattr(analytic, "WINDOW_STEPS", 8)
    net = random_network(sizes=(20, 12), n_in=8, density=0.3, seed=4)
    m = compile_network(net, tick_period_s="auto")
    xs = np.random.default_rng(4).standard_normal((30, 8)).astype(np.float32)
    first = run_mapping(m, xs, engine="analytic", compare=False)
    remember_analytic(m, xs, first)
    m.options["tick_choice"] = "auto"  # the tick choice's notes do not count
    again = run_mapping(m, xs.copy(), engine="analytic")
    assert again is first and again.mismatches.not_checked
    fresh = run_mapping(m, xs, engine="analytic")  # the slot is used once
    assert fresh is not first and fresh.energy_j == first.energy_j
    np.testing.assert_array_equal(fresh.latency_ps, first.latency_ps)
    remember_analytic(m, xs, first)
    assert run_mapping(m, xs[::-1].copy(), engine="analytic") is not first  # other inputs
    remember_analytic(m, xs, first)
    net.layers[0].R[0, 0] += 1.0  # other weights
    assert run_mapping(m, xs, engine="analytic") is not first
    remember_analytic(m, xs[:5], first)  # a short run is not kept
    assert run_mapping(m, xs[:5], engine="analytic") is not first


def test_token_inputs_are_looked_up_window_by_window(monkeypatch):
    """Token ids: the embedding rows are looked up per window, never all at once, and a long
    run counted window by window gives the figures of the whole run."""
    import s2sim.engine.analytic as analytic
    from s2sim.compiler.ir import Network
    from s2sim.engine.common import prepare_run

    base = random_network(sizes=(16,), n_in=8, density=0.5, seed=1)
    emb = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    net = Network.from_layers(base.layers, embedding=emb)
    m = compile_network(net, tick_period_s="auto")
    toks = np.random.default_rng(3).integers(0, 50, 27)
    run = prepare_run(m, toks)
    assert run.n_steps == 27 and run._xs is None
    np.testing.assert_array_equal(run.inputs(3, 9), emb[toks[3:9]])
    whole = run_mapping(m, toks, engine="analytic")
    monkeypatch.setattr(analytic, "WINDOW_STEPS", 5)
    r = run_mapping(m, toks, engine="analytic")
    assert r.energy_j == whole.energy_j
    np.testing.assert_array_equal(r.latency_ps, whole.latency_ps)
    np.testing.assert_array_equal(run.xs, emb[toks])
    emb_bad = emb.copy()
    emb_bad[4, 2] = np.nan
    bad = Network.from_layers(base.layers, embedding=emb_bad)
    mb = compile_network(bad)
    run_mapping(mb, np.array([1, 2]), engine="functional")  # row 4 not used: fine
    with pytest.raises(S2SimError, match="NaN or infinity"):
        run_mapping(mb, np.array([1, 4]), engine="functional")


class _Recorder:
    """An ``observe``: the windows it was called with."""

    def __init__(self):
        self.calls = []

    def __call__(self, a, trace):
        self.calls.append((a, [y.copy() for y in trace.ys]))

    def top(self):
        return np.concatenate([ys[-1] for _, ys in self.calls])


def test_observe_sees_the_reference_pass_the_run_is_priced_from(monkeypatch):
    """The analytic engine shows its windows in step order (together the whole oracle); the
    DES and functional engines the whole oracle once; a remembered run is reused only by the
    observer it was observed by (else the run is done again, observed)."""
    import s2sim.engine.analytic as analytic
    from s2sim.engine.run import remember_analytic

    monkeypatch.setattr(analytic, "WINDOW_STEPS", 8)
    net = random_network(sizes=(20, 12), n_in=8, density=0.3, seed=4)
    m = compile_network(net, tick_period_s="auto")
    xs = np.random.default_rng(4).standard_normal((30, 8)).astype(np.float32)
    want = net.stack.run(xs).ys[-1]
    seen = _Recorder()
    first = run_mapping(m, xs, engine="analytic", observe=seen)
    assert [a for a, _ in seen.calls] == [0, 8, 16, 24]
    np.testing.assert_array_equal(seen.top(), want)
    for engine in ("des", "functional"):
        once = _Recorder()
        run_mapping(m, xs, engine=engine, observe=once)
        assert [a for a, _ in once.calls] == [0]
        np.testing.assert_array_equal(once.top(), want)
    remember_analytic(m, xs, first, seen)
    other = _Recorder()
    assert run_mapping(m, xs, engine="analytic", observe=other) is not first
    assert [a for a, _ in other.calls] == [0, 8, 16, 24]
    remember_analytic(m, xs, first, seen)
    n = len(seen.calls)
    assert run_mapping(m, xs, engine="analytic", observe=seen) is first  # already observed
    assert len(seen.calls) == n
