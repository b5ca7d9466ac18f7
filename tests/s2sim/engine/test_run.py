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
