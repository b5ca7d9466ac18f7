"""Automatic per-PE performance levels vs fixed PLs."""

from __future__ import annotations

import numpy as np
import pytest

from s2sim.bench.pl_policy import PLCosts, choose_levels, compare, fixed_levels, simulate
from s2sim.errors import S2SimError
from s2sim.hw.dvfs import cycles_to_ps
from s2sim.spec import load_spec

SPEC = load_spec()
COSTS = PLCosts.from_spec(SPEC)
STEP_PS = 1_000_000_000  # 1 ms
LO, HI = COSTS.by_speed()[0], COSTS.highest
F_LO, F_HI = COSTS.table.frequency_hz[LO], COSTS.table.frequency_hz[HI]


def _cycles_for(frac_of_step, f):
    return int(frac_of_step * STEP_PS * 1e-12 * f)


def test_picks_lowest_level_that_meets_the_deadline():
    light = _cycles_for(0.5, F_LO)  # fits at the slow PL
    heavy = _cycles_for(0.8, F_HI)  # needs the fast PL
    w = np.array([[light, heavy, light, light, heavy]], np.int64)
    levels, guarded = choose_levels(w, COSTS, STEP_PS, worst_case_cycles=[heavy])
    assert not guarded[0]
    assert levels[0].tolist() == [LO, HI, LO, LO, HI]
    sched = simulate(w, levels, COSTS, STEP_PS, initial_level=HI)
    assert sched.misses == 0
    # initial HI -> LO, LO -> HI, HI -> LO, LO -> HI: four switches, each costing time and energy
    assert sched.switches[0] == 4
    assert sched.switch_energy_j == pytest.approx(4 * COSTS.table.switch_energy_j)
    # the switch delays the step's work by the spec's switch time
    assert sched.start_ps[0, 1] == STEP_PS + COSTS.table.switch_ps


def test_switch_time_is_charged_and_can_cause_a_miss():
    # work that exactly fills the step at HI: after a switch from LO it overruns by the switch time
    w = np.array([[0, int(STEP_PS * 1e-12 * F_HI)]], np.int64)
    assert cycles_to_ps(int(w[0, 1]), F_HI) == STEP_PS
    sched = simulate(w, np.array([[LO, HI]]), COSTS, STEP_PS)
    assert sched.missed[0, 1] and sched.end_ps[0, 1] == 2 * STEP_PS + COSTS.table.switch_ps
    # the policy sees that, guards the PE and keeps it at HI: no miss
    levels, guarded = choose_levels(w, COSTS, STEP_PS)
    assert guarded[0] and (levels == HI).all()
    assert simulate(w, levels, COSTS, STEP_PS, initial_level=HI).misses == 0


@pytest.mark.parametrize("seed", range(6))
def test_auto_never_misses_where_fixed_high_meets(seed):
    rng = np.random.default_rng(seed)
    n_pe, T = 12, 40
    # a mix of idle, light, heavy and over-full steps, some right at the deadline edge
    full_hi = int(STEP_PS * 1e-12 * F_HI)
    choices = np.array([0, full_hi // 10, full_hi // 3, full_hi // 2, full_hi - 5,
                        full_hi, full_hi + 50])
    w = rng.choice(choices, size=(n_pe, T)).astype(np.int64)
    w[: n_pe // 2] = np.minimum(w[: n_pe // 2], full_hi // 2)  # half the PEs never near the edge
    for policy in ("queued",):
        runs = compare(w, COSTS, STEP_PS, policy=policy)
        auto = runs[f"auto ({policy})"]
        high = runs[f"fixed {COSTS.table.names[HI]}"]
        assert not np.any(auto.missed & ~high.missed)
        assert auto.energy_j <= high.energy_j + 1e-15


def test_auto_saves_energy_on_light_load_and_equals_fixed_low_when_all_fit():
    w = np.full((4, 20), _cycles_for(0.1, F_LO), np.int64)
    runs = compare(w, COSTS, STEP_PS)
    auto, low, high = runs["auto (queued)"], runs[f"fixed {COSTS.table.names[LO]}"], runs[
        f"fixed {COSTS.table.names[HI]}"]
    assert auto.misses == low.misses == high.misses == 0
    assert auto.energy_j < high.energy_j
    # auto starts at HI and switches once to LO: fixed LO plus one switch and a few ns at HI
    assert auto.switches.tolist() == [1, 1, 1, 1]
    assert auto.energy_j == pytest.approx(low.energy_j, rel=1e-3)


def test_fixed_low_misses_what_auto_catches():
    heavy = _cycles_for(0.7, F_HI)  # 1.4 steps at LO
    w = np.array([[heavy if t % 5 == 0 else 1000 for t in range(30)]], np.int64)
    runs = compare(w, COSTS, STEP_PS, worst_case_cycles=[heavy])
    assert runs[f"fixed {COSTS.table.names[LO]}"].misses > 0
    assert runs["auto (queued)"].misses == 0


def test_predicted_policy_counts_its_misses():
    w = np.array([[1000] * 10 + [_cycles_for(1.0, F_HI)] + [1000] * 5], np.int64)
    levels, _ = choose_levels(w, COSTS, STEP_PS, "predicted", worst_case_cycles=[0])
    sched = simulate(w, levels, COSTS, STEP_PS, initial_level=HI)
    # predicted from quiet steps: at LO when the burst arrives, the switch up costs time -> miss
    assert levels[0, 10] == HI
    assert sched.misses == 1 and sched.missed[0, 10]


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(S2SimError, match="unknown"):
        choose_levels(np.zeros((1, 2), np.int64), COSTS, STEP_PS, "magic")
    with pytest.raises(S2SimError, match="non-negative integer"):
        simulate(np.full((1, 2), -1), fixed_levels(np.zeros((1, 2)), 0), COSTS, STEP_PS)
    with pytest.raises(S2SimError, match=r"\(n_pe, steps\)"):
        simulate(np.zeros(3, np.int64), np.zeros(3, np.int64), COSTS, STEP_PS)
