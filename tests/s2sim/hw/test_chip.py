import numpy as np
import pytest

from s2sim.errors import ResourceError, S2SimError
from s2sim.hw import Chip, Program


class AllToAll(Program):
    """Sends one packet with a payload each tick, at a PE-dependent point of the handler."""

    def __init__(self, key):
        self.key = key
        self.sum = 0

    def on_tick(self, pe, tick):
        pe.charge(200 + (self.key * 37) % 500)
        pe.send([self.key], np.array([[tick, self.key]], dtype=np.uint32),
                at_cycles=(self.key * 13) % 200)

    def on_packets(self, pe, keys, payloads):
        self.sum += int(payloads.sum())
        pe.count(synaptic_events=len(keys))
        return 10 + (keys.astype(np.int64) % 7)


def _all_to_all(spec, ticks=6):
    chip = Chip(spec)
    progs = []
    for i, pid in enumerate(chip.pes):
        p = AllToAll(i)
        progs.append(p)
        chip.load(pid, p)
        chip.router.add(i, 0xFFFFFFFF, pes=set(chip.pes) - {pid})
    return chip.run(ticks=ticks), progs


def test_same_run_twice_gives_identical_counts_and_energy(spec):
    r1, p1 = _all_to_all(spec)
    r2, p2 = _all_to_all(spec)
    c1, c2 = r1.counts, r2.counts
    assert c1.totals() == c2.totals()
    for group in ("pe", "pl", "noc"):
        d1, d2 = getattr(c1, group), getattr(c2, group)
        assert d1.keys() == d2.keys()
        for k in d1:
            assert np.array_equal(d1[k], d2[k]), k
    assert r1.energy().as_dict() == r2.energy().as_dict()
    assert [p.sum for p in p1] == [p.sum for p in p2]
    # and the run did what it should: every PE got every other PE's packet every tick
    assert c1.total("packets_received") == 152 * 151 * 6
    assert c1.total("synaptic_events") == 152 * 151 * 6
    assert r1.ok


def test_chip_shape_and_ids(spec):
    chip = Chip(spec)
    assert len(chip.pes) == 152 and chip.pes == sorted(chip.pes)
    assert len(chip.qpes) == 38
    assert chip.pe_index(chip.pes[7]) == 7
    with pytest.raises(ResourceError, match="not a PE of this chip"):
        chip.pe(0)


def test_run_once_and_input_checks(spec):
    chip = Chip(spec)
    with pytest.raises(S2SimError, match="ticks must be a positive integer"):
        chip.run(ticks=0)
    chip.load(chip.pes[0], Program())
    with pytest.raises(ResourceError, match="already has program"):
        chip.load(chip.pes[0], Program())
    with pytest.raises(S2SimError, match="must be an s2sim.hw.runtime.Program"):
        chip.load(chip.pes[1], object())
    chip.run(ticks=1)
    with pytest.raises(S2SimError, match="called twice"):
        chip.run(ticks=1)
    with pytest.raises(S2SimError):
        chip.router.add(1, 0xFFFFFFFF, pes={chip.pes[0]})


def test_ticks_per_column_sums_ticks_without_changing_totals(spec):
    def run(tpc):
        chip = Chip(spec)
        for i, pid in enumerate(chip.pes[:8]):
            chip.load(pid, AllToAll(i))
            chip.router.add(i, 0xFFFFFFFF, pes=set(chip.pes[:8]) - {pid})
        return chip.run(ticks=7, ticks_per_column=tpc)

    per_tick, binned = run(1), run(3)
    assert per_tick.counts.pe["active_cycles"].shape == (152, 7)
    assert binned.counts.pe["active_cycles"].shape == (152, 3)
    assert binned.counts.n_columns == 3
    assert per_tick.counts.totals() == binned.counts.totals()
    a = per_tick.counts.pe["sleep_ps"]
    assert binned.counts.pe["sleep_ps"][:, 2].tolist() == a[:, 6].tolist()
    assert binned.counts.pe["sleep_ps"][:, 0].tolist() == a[:, :3].sum(axis=1).tolist()
    assert binned.energy().as_dict() == per_tick.energy().as_dict()
