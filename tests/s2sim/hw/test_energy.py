"""Calibration end to end: the published chip powers, reproduced by simulating the same state."""

import numpy as np
import pytest

from s2sim.hw import Chip, Program, price
from s2sim.hw.dvfs import cycles_to_ps
from s2sim.spec import load_spec

TICKS = 5


class Asleep(Program):
    """No handlers: the timer is not enabled, the PE sleeps (WFI) the whole run."""


class Busy(Program):
    """Every cycle busy: each tick charges the whole tick minus interrupt entry/exit."""

    def __init__(self, cycles):
        self.cycles = cycles

    def on_tick(self, pe, tick):
        pe.charge(self.cycles)


def _run(spec, make, pl):
    chip = Chip(spec)
    for pid in chip.pes:
        if make is not None:
            chip.load(pid, make(), pl=pl)
    res = chip.run(ticks=TICKS)
    return res, price(res.counts, spec)


def _level(spec, pl):
    f = spec.performance_levels[pl].frequency_hz.value
    cal = next(c for c in spec.calibration.levels if c.frequency_hz.value == f)
    return f, cal


@pytest.mark.parametrize("pl", [0, 1])
def test_all_pes_asleep_reproduces_published_power(spec, pl):
    _, cal = _level(spec, pl)
    res, e = _run(spec, Asleep, pl)
    assert res.counts.total("active_cycles") == 0
    assert e.average_power_w == pytest.approx(cal.chip_asleep_power_w.value, rel=1e-4)
    # 0.50 V -> 235.4 mW, 0.80 V -> 564.7 mW
    assert round(e.average_power_w * 1e3, 1) == {0: 235.4, 1: 564.7}[pl]


@pytest.mark.parametrize("pl", [0, 1])
def test_all_pes_busy_reproduces_published_power(spec, pl):
    f, cal = _level(spec, pl)
    tick_cycles = int(f * spec.timing.tick_period_s.value)
    irq = spec.cpu.cycles.irq_entry.value + spec.cpu.cycles.irq_exit.value
    res, e = _run(spec, lambda: Busy(tick_cycles - irq), pl)
    c = res.counts
    assert c.total("tick_overruns") == 0
    assert c.total("active_cycles") == 152 * TICKS * tick_cycles
    assert c.total("sleep_ps") == 0  # busy every cycle
    assert cycles_to_ps(tick_cycles, f) == res.counts.tick_period_ps
    assert e.average_power_w == pytest.approx(cal.chip_busy_power_w.value, rel=1e-4)
    assert round(e.average_power_w * 1e3, 1) == {0: 424.6, 1: 1247.9}[pl]


def test_all_pes_off_is_the_chip_floor(spec):
    res, e = _run(spec, None, 0)
    assert e.average_power_w == pytest.approx(0.0752, rel=1e-9)
    assert e.components_j["pe_sleep"] == 0 and e.components_j["pe_active"] == 0
    assert res.counts.total("off_ps") == 152 * TICKS * res.counts.tick_period_ps


def test_counts_can_be_repriced_with_another_spec(spec, tmp_path):
    res, e = _run(spec, Asleep, 0)
    dearer = load_spec(overrides={"performance_levels.0.pe_sleep_power_w": 2e-3})
    e2 = price(res.counts, dearer)
    assert e2.components_j["pe_sleep"] == pytest.approx(2 * e.components_j["pe_sleep"] / 1.053947,
                                                         rel=1e-6)
    # counts survive a round trip through a file
    path = tmp_path / "counts.npz"
    res.counts.save(path)
    from s2sim.hw import Counts
    back = Counts.load(path)
    assert price(back, spec).as_dict() == e.as_dict()
    assert np.array_equal(back.pe["sleep_ps"], res.counts.pe["sleep_ps"])


def test_energy_report_breakdown_adds_up(spec):
    res, e = _run(spec, lambda: Busy(1000), 1)
    assert e.total_j == pytest.approx(sum(e.components_j.values()))
    assert e.per_pe_j.shape == (152,)
    assert e.per_pe_j.sum() + e.components_j["chip_floor"] == pytest.approx(e.total_j)
    assert "pe_active" in e.table()
