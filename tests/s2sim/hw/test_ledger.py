"""The ledger (s2sim/hw/ledger.py) directly: Ledger booking, Counts totals/per_pe/per_tick,
save/load, concatenate."""

import numpy as np
import pytest

from s2sim.errors import S2SimError
from s2sim.hw.ledger import NOC_FIELDS, PE_FIELDS, PL_FIELDS, Counts, Ledger

PES = [0, 1, 4]


def _ledger(n_ticks=3, tpc=1):
    return Ledger(PES, n_pls=2, n_ticks=n_ticks, tick_period_ps=1000, chip_links=2,
                  ticks_per_column=tpc)


def _counts(n_ticks=3, scale=1):
    L = _ledger(n_ticks)
    L.pe["active_cycles"][0, 0] += 5 * scale
    L.pe["active_cycles"][2, n_ticks - 1] += 7 * scale
    L.pl["cycles"][0, 1] += 12 * scale
    L.noc["packets"][1] += 3 * scale
    L.link_packets[1] += 2 * scale
    L.add_program(1, 0, {"macs": 4 * scale, "sram_read_bytes": 8 * scale}, "PE 1")
    L.add_interval("active_ps", 2, 500, 2500, n_ticks * 1000)  # spans three ticks
    return L.freeze(np.array([True, True, False]), n_ticks * 1000, undelivered=scale)


def test_ledger_books_intervals_per_tick_and_clips_to_the_run():
    c = _counts()
    assert c.pe["active_ps"][2].tolist() == [500, 1000, 500]
    L = _ledger()
    L.add_interval("switch_ps", 0, 2800, 4000, 3000)  # past the end: clipped
    assert L.pe["switch_ps"][0].tolist() == [0, 0, 200]


def test_program_counters_are_checked():
    L = _ledger()
    with pytest.raises(S2SimError, match="booked by the runtime"):
        L.add_program(0, 0, {"active_cycles": 1}, "PE 0")
    with pytest.raises(S2SimError, match="non-negative integer"):
        L.add_program(0, 0, {"macs": -1}, "PE 0")
    L.add_program(0, 1, {"my_counter": 3}, "PE 0")  # a program's own counter is allowed
    assert L.freeze(np.ones(3, bool), 3000, 0).pe["my_counter"][0].tolist() == [0, 3, 0]


def test_totals_per_pe_and_per_tick():
    c = _counts()
    t = c.totals()
    assert list(t)[:len(PE_FIELDS)] == list(PE_FIELDS)
    assert t["active_cycles"] == 12 and t["macs"] == 4 and t["sram_read_bytes"] == 8
    assert t["noc_packets"] == 3 and t["pl_cycles"] == 12 and t["undelivered"] == 1
    assert c.per_pe("active_cycles").tolist() == [5, 0, 7]
    assert c.per_pe("cycles").tolist() == [12, 0, 0]       # a per-PL counter, summed over PLs
    assert c.per_tick("active_cycles").tolist() == [5, 0, 7]
    assert c.per_tick("packets").tolist() == [0, 3, 0]
    assert c.total("hops") == 0 and c.n_pes == 3 and c.n_columns == 3
    with pytest.raises(S2SimError, match="no counter"):
        c["nonsense"]


def test_ticks_per_column_sums_ticks():
    L = _ledger(n_ticks=5, tpc=2)
    assert L.n_columns == 3 and L.tick_of(4999) == 2 and L.col_of_tick(3) == 1
    assert L.powered_ps_per_column().tolist() == [2000, 2000, 1000]


def test_save_load_round_trip(tmp_path):
    c = _counts()
    path = tmp_path / "counts.npz"
    c.save(path)
    back = Counts.load(path)
    assert (back.pe_ids, back.tick_period_ps, back.n_ticks, back.duration_ps, back.undelivered,
            back.ticks_per_column) == (c.pe_ids, 1000, 3, 3000, 1, 1)
    for group in ("pe", "pl", "noc"):
        a, b = getattr(c, group), getattr(back, group)
        assert set(a) == set(b)
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert np.array_equal(back.loaded, c.loaded)
    assert back.totals() == c.totals()
    assert [p.name for p in tmp_path.iterdir()] == ["counts.npz"]  # no temporary left behind


def test_load_of_a_bad_file_is_one_error(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    with pytest.raises(S2SimError, match="cannot read"):
        Counts.load(bad)


def test_concatenate_plays_runs_back_to_back():
    a, b = _counts(n_ticks=3), _counts(n_ticks=2, scale=10)
    m = Counts.concatenate([a, b])
    assert m.n_ticks == 5 and m.duration_ps == 5000 and m.extra == {"runs": 2}
    assert m.pe["active_cycles"][0].tolist() == [5, 0, 0, 50, 0]
    assert m.pe["active_cycles"][2].tolist() == [0, 0, 7, 0, 70]
    assert m.noc["packets"].tolist() == [0, 3, 0, 0, 30]
    assert m.pl["cycles"][0].tolist() == [0, 132]               # per-PL totals are summed
    assert m.link_packets_per_link.tolist() == [0, 22]
    assert m.undelivered == 11 and m.loaded.tolist() == [True, True, False]
    assert m.totals()["macs"] == a.totals()["macs"] + b.totals()["macs"]
    assert set(m.pe) == set(a.pe) and set(m.noc) == set(NOC_FIELDS) and set(m.pl) == set(PL_FIELDS)
    assert a.n_ticks == 3  # the inputs are not changed


def test_concatenate_refuses_runs_that_do_not_line_up():
    a = _counts()
    other = Counts.concatenate([a])
    other.tick_period_ps = 2000
    with pytest.raises(S2SimError, match="differ"):
        Counts.concatenate([a, other])
    with pytest.raises(S2SimError, match="no counts"):
        Counts.concatenate([])
