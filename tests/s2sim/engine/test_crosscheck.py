"""s2sim.engine.crosscheck: --check-des N."""

import numpy as np

from s2sim.compiler.compile import compile_network
from s2sim.compiler.random_net import random_network
from s2sim.engine.crosscheck import check_on_des, describe


def test_check_on_des_compares_the_first_steps():
    net = random_network(sizes=(30, 20), n_in=12, density=0.3, seed=4)
    m = compile_network(net, tick_period_s="auto")
    xs = np.random.default_rng(0).standard_normal((10, 12)).astype(np.float32)
    c = check_on_des(m, xs, 4, network=net)
    assert c["steps"] == 4 and c["event_mismatches"] == 0 and c["dropped_packets"] == 0
    assert abs(c["analytic_vs_des"]["energy"]) < 1e-6
    assert "--check-des 4" in describe(c)


def test_a_too_short_tick_shows_on_the_des():
    net = random_network(sizes=(30, 20), n_in=12, density=0.3, seed=4)
    ok = compile_network(net, tick_period_s="auto")
    short = compile_network(net, tick_period_s=ok.tick_period_ps / 1e12 / 6,
                            check_schedule=False, cycle_headroom=0.0)
    xs = np.random.default_rng(0).standard_normal((10, 12)).astype(np.float32)
    c = check_on_des(short, xs, 8, network=net)
    assert c["tick_overruns"] + c["late_packets"] + c["event_mismatches"] > 0
