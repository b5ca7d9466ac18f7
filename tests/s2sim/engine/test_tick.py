"""choose_tick: the shortest tick the inputs run at cleanly, plus the margin, DES-confirmed."""

import numpy as np
import pytest

from s2sim.compiler.compile import compile_network
from s2sim.compiler.random_net import random_network
from s2sim.engine.run import run_mapping
from s2sim.engine.tick import choose_tick
from s2sim.errors import S2SimError


@pytest.fixture(scope="module")
def net_xs():
    net = random_network(sizes=(60, 40), n_in=30, density=0.3, seed=2)
    xs = np.random.default_rng(0).standard_normal((24, 30)).astype(np.float32)
    return net, xs


def test_auto_tick_is_shorter_than_the_estimate_and_clean(net_xs):
    net, xs = net_xs
    m, c = choose_tick(net, xs, margin=0.1, confirm_steps=8)
    est = compile_network(net, tick_period_s="auto")
    assert c.method == "auto" and c.tick_s <= c.estimate_s + 1e-12
    assert m.tick_period_ps <= est.tick_period_ps
    assert c.tick_s >= c.shortest_passing_s * 1.1 - 1e-9  # the margin is kept
    for engine in ("analytic", "des"):
        r = run_mapping(m, xs, engine=engine)
        assert r.tick_overruns == 0 and r.dropped_packets == 0
    assert run_mapping(m, xs, engine="des").mismatches.total == 0


def test_a_shorter_tick_than_the_passing_one_fails(net_xs):
    net, xs = net_xs
    _, c = choose_tick(net, xs, margin=0.0, confirm_steps=0)
    us = round(c.shortest_passing_s * 1e6) - 1
    try:
        m = compile_network(net, tick_period_s=us * 1e-6, check_schedule=False)
    except S2SimError:
        return  # no partition fits the shorter tick: it fails too
    r = run_mapping(m, xs, engine="analytic", compare=False)
    assert r.tick_overruns or r.dropped_packets or r.meta["late_ticks_est"]


@pytest.mark.parametrize("bad", [-0.1, float("nan"), 11.0])
def test_bad_margin_is_refused(net_xs, bad):
    with pytest.raises(S2SimError, match="tick-margin"):
        choose_tick(*net_xs, margin=bad)


def test_a_long_run_is_searched_on_its_first_steps_and_checked_on_all(net_xs, monkeypatch):
    import s2sim.engine.tick as tick

    net, xs = net_xs
    monkeypatch.setattr(tick, "SEARCH_STEPS", 10)
    m, c = choose_tick(net, xs, margin=0.1, confirm_steps=4)
    assert c.searched_on_steps == 10 < xs.shape[0]
    r = run_mapping(m, xs, engine="analytic", compare=False)
    assert r.tick_overruns == 0 and r.dropped_packets == 0 and r.meta["late_ticks_est"] == 0
