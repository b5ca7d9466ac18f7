"""The machine DES (s2sim.engine.machine_des): the paper shape spread over chips gives the
reference's events, and its link packets equal the analytic count on the same routes."""

import numpy as np
import pytest

from s2sim.compiler.ir import Network
from s2sim.compiler.machine_map import compile_machine
from s2sim.engine.machine_des import run_machine_des


@pytest.mark.parametrize("chips", [2, 3])
def test_paper_shape_over_chips_matches_the_reference_and_the_link_count(chips):
    mm = compile_machine(Network.paper_shape(), "board48", chips=chips)
    tokens = np.random.default_rng(1).integers(0, 33_278, 4)
    res = run_machine_des(mm, tokens)
    assert res.event_mismatches == 0
    assert res.meta["missing_host_outputs"] == 0 and res.meta["queue_full"] == 0
    assert res.link_dropped == 0
    assert res.link_packets > 0
    assert res.link_packets == res.analytic_links["packets"]
    assert {r["chip"] for r in res.chips} == set(mm.chips_used)
    assert res.components_j["chip_links"] > 0
    assert res.energy_j == pytest.approx(sum(r["energy_j"] for r in res.chips))


def test_the_host_paces_a_step_only_when_its_packets_would_fill_the_input_queue():
    from s2sim.engine.machine_des import host_pacing

    narrow = compile_machine(Network.paper_shape(), "board48", chips=2)
    assert host_pacing(narrow)[0] == 0  # 188 packets per step: sent back to back, as on one chip


@pytest.mark.slow
def test_paper_shape_at_four_times_the_width_on_twelve_chips_matches_the_reference():
    """750 host packets per step: paced (host_pacing), so the input PE's 256-packet queue holds."""
    from s2sim.engine.machine_des import host_pacing

    mm = compile_machine(Network.paper_shape(width_scale=4), "board48")
    assert host_pacing(mm)[0] > 0
    res = run_machine_des(mm, np.random.default_rng(1).integers(0, 33_278, 3))
    assert res.event_mismatches == 0 and res.meta["queue_full"] == 0 and res.link_dropped == 0
    assert res.link_packets == res.analytic_links["packets"]
