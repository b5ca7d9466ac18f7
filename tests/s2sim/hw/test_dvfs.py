import numpy as np
import pytest

from s2sim.errors import S2SimError
from s2sim.hw import Chip, Program
from s2sim.hw.dvfs import cycles_to_ps, ps_to_cycles, seconds_to_ps


def test_cycles_to_ps_is_exact_ceiling():
    assert cycles_to_ps(3, 300e6) == 10_000
    assert cycles_to_ps(1, 300e6) == 3_334  # 3333.33.. rounded up
    assert cycles_to_ps(150_000, 150e6) == 10**9
    assert cycles_to_ps(0, 150e6) == 0
    arr = cycles_to_ps(np.array([0, 1, 2, 3, 150_000]), 150e6)
    assert arr.dtype == np.int64
    assert arr.tolist() == [0, 6_667, 13_334, 20_000, 10**9]
    # huge counts stay exact (fall back to Python integers)
    big = np.array([10**12], dtype=np.int64)
    assert cycles_to_ps(big, 1.234567e8)[0] == -((-(10**12) * 10**12) // 123_456_700)
    assert ps_to_cycles(10**9, 300e6) == 300_000
    assert seconds_to_ps(1e-3) == 10**9
    with pytest.raises(S2SimError):
        cycles_to_ps(1, 0)


class Switcher(Program):
    """Tick 0: 1000 cycles, then switch to PL1. Records handler start times."""

    def __init__(self):
        self.starts = []

    def on_tick(self, pe, tick):
        self.starts.append((tick, pe.now_ps, pe.pl, pe.frequency_hz))
        pe.charge(1000)
        if tick == 0:
            pe.set_pl(1)


def test_pl_switch_costs_time_and_energy_and_records_residency(spec):
    chip = Chip(spec)
    pid = chip.pes[0]
    prog = Switcher()
    chip.load(pid, prog, pl=0)
    res = chip.run(ticks=3)
    c = res.counts
    P = chip.tick_period_ps
    irq = 12 + 10
    end0 = cycles_to_ps(1000 + irq, 150e6)
    switch_ps = seconds_to_ps(spec.timing.pl_switch_s.value)
    assert switch_ps == 50_000
    i = 0
    # PL0 until the switch has finished, PL1 for the rest of the run
    assert c.pl["residency_ps"][i, 0] == end0 + switch_ps
    assert c.pl["residency_ps"][i, 1] == 3 * P - end0 - switch_ps
    assert c.pe["pl_switches"][i].tolist() == [1, 0, 0]
    assert c.pe["switch_ps"][i, 0] == switch_ps
    # later ticks run at PL1: 1022 cycles at 300 MHz
    assert [s[2] for s in prog.starts] == [0, 1, 1]
    assert prog.starts[1][3] == 300e6
    assert c.pe["active_ps"][i].tolist() == [end0, cycles_to_ps(1022, 300e6),
                                             cycles_to_ps(1022, 300e6)]
    assert c.pl["cycles"][i].tolist() == [1022, 2044]
    # sleep = powered - active - switching
    assert c.pe["sleep_ps"][i, 0] == P - end0 - switch_ps
    e = res.energy()
    assert e.components_j["dvfs"] == pytest.approx(spec.power.pl_switch_energy_j.value)


class BadPL(Program):
    def on_tick(self, pe, tick):
        pe.set_pl(7)


def test_bad_pl_is_a_one_line_error(spec):
    chip = Chip(spec)
    with pytest.raises(S2SimError, match="performance level 5 does not exist"):
        chip.load(chip.pes[0], Program(), pl=5)
    chip.load(chip.pes[0], BadPL())
    with pytest.raises(S2SimError, match=r"PE 0x24 .*set_pl.*7 does not exist"):
        chip.run(ticks=1)
