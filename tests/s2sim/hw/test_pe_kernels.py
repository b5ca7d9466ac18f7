"""The event loop's numba kernels (s2sim/hw/pe_kernels.py) against plain-Python references."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from s2sim.hw.dvfs import cycles_to_ps, ps_per_cycle_ratio
from s2sim.hw.event_loop import Inbox
from s2sim.hw.pe_kernels import (
    block_fields,
    book_sends,
    common_masked,
    group_by_destination,
    inbox_put,
    inbox_take,
    queue_peak,
    queue_scan,
    queue_time,
    queue_time_in_tick,
    same_values,
    send_times,
    time_serial,
)

F = 150e6


def _serial(a, body, overhead, free):
    starts, ends, t = [], [], free
    for ai, bi in zip(a, body, strict=True):
        s = max(ai, t)
        t = s + cycles_to_ps(int(bi) + overhead, F)
        starts.append(s)
        ends.append(t)
    return starts, ends


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 5000)), min_size=1, max_size=30),
       st.integers(0, 10**7))
def test_time_serial_is_start_max_arrival_previous_end(packets, free):
    a = np.sort(np.array([p[0] for p in packets], dtype=np.int64))
    body = np.array([p[1] for p in packets], dtype=np.int64)
    num, den = ps_per_cycle_ratio(F)
    start = np.empty(len(a), np.int64)
    end = np.empty(len(a), np.int64)
    status, total_c, total_d = time_serial(a, body, 22, num, den, free, start, end)
    ref_s, ref_e = _serial(a.tolist(), body.tolist(), 22, free)
    assert status == 0
    assert start.tolist() == ref_s and end.tolist() == ref_e
    assert total_c == int(body.sum()) + 22 * len(a)
    assert total_d == sum(cycles_to_ps(int(b) + 22, F) for b in body)


def test_time_serial_flags_negative_cycles_and_overflow():
    num, den = ps_per_cycle_ratio(F)
    a = np.zeros(2, np.int64)
    out = np.empty(2, np.int64), np.empty(2, np.int64)
    assert time_serial(a, np.array([5, -1], np.int64), 0, num, den, 0, *out)[0] == -1
    assert time_serial(a, np.array([1 << 61, 0], np.int64), 0, num, den, 0, *out)[0] == 1


def test_queue_scan_accepts_below_depth_drops_when_exact_and_stops_when_undecidable():
    accept = np.empty(4, np.bool_)
    # two known starts after the arrivals keep the queue at depth 2: packets before `free`
    # (exact count) are dropped
    known = np.array([100, 200], np.int64)
    n = queue_scan(np.array([10, 20], np.int64), known, 300, 2, accept)
    assert n == 2 and accept[:2].tolist() == [False, False]
    # an empty queue accepts up to `depth` waiting packets; after `free` the count is only a
    # bound, so the scan stops there
    n = queue_scan(np.array([10, 20, 400, 410], np.int64), np.zeros(0, np.int64), 300, 2,
                   accept)
    assert n == 2 and accept[:2].tolist() == [True, True]
    n = queue_scan(np.array([10, 20, 30], np.int64), np.zeros(0, np.int64), 300, 2, accept)
    assert n == 3 and accept[:3].tolist() == [True, True, False]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 40)), min_size=0, max_size=80))
def test_group_by_destination_is_a_stable_lexsort(deliveries):
    dpe = np.array([d[0] for d in deliveries], dtype=np.int64)
    dps = np.array([d[1] for d in deliveries], dtype=np.int64)
    order, dest, start = group_by_destination(dpe, dps, 6)
    assert order.tolist() == np.lexsort((dps, dpe)).tolist()
    assert dest.tolist() == sorted(set(dpe.tolist()))
    assert start[-1] == len(deliveries)
    for g, d in enumerate(dest.tolist()):
        assert set(dpe[order[start[g]:start[g + 1]]].tolist()) == {d}


@settings(max_examples=100, deadline=None)
@given(arrivals=st.lists(st.integers(0, 20_000), min_size=1, max_size=40),
       bodies=st.lists(st.integers(0, 3_000), min_size=40, max_size=40),
       known=st.lists(st.integers(0, 6_000), max_size=6), free=st.integers(0, 6_000),
       depth=st.integers(1, 6))
def test_queue_time_is_a_fifo_queue_packet_by_packet(arrivals, bodies, known, free, depth):
    """One pass: drop a packet when ``depth`` packets wait at its arrival (started after it:
    earlier batches' ``known`` starts and this batch's accepted ones), else time it serially."""
    num, den = ps_per_cycle_ratio(F)
    a = np.array(sorted(arrivals), np.int64)
    body = np.array(bodies[:a.size], np.int64)
    known_a = np.array(sorted(min(k, free) for k in known), np.int64)
    n = a.size
    accept, start, end = np.empty(n, np.bool_), np.empty(n, np.int64), np.empty(n, np.int64)
    status, n_acc, total_c, _ = queue_time(a, body, known_a, free, depth, 7, num, den, accept,
                                           start, end)
    starts, t, want = list(known_a), free, []
    for ai, bi in zip(a.tolist(), body.tolist(), strict=True):
        if sum(s > ai for s in starts) >= depth:
            want.append(False)
            continue
        s = max(ai, t)
        t = s + cycles_to_ps(bi + 7, F)
        starts.append(s)
        want.append(True)
    assert status == 0 and accept.tolist() == want
    assert start[:n_acc].tolist() == starts[known_a.size:]
    assert total_c == int(body[accept].sum()) + 7 * n_acc


@settings(max_examples=100, deadline=None)
@given(arrivals=st.lists(st.integers(0, 6_000), min_size=1, max_size=40),
       bodies=st.lists(st.integers(0, 3_000), min_size=40, max_size=40),
       known=st.lists(st.integers(0, 6_000), max_size=6), free=st.integers(0, 6_000),
       depth=st.integers(1, 6), period=st.integers(2_000, 40_000))
def test_queue_time_in_tick_is_queue_time_then_queue_peak_within_one_tick(
        arrivals, bodies, known, free, depth, period):
    num, den = ps_per_cycle_ratio(F)
    a = np.array(sorted(arrivals), np.int64)
    body = np.array(bodies[:a.size], np.int64)
    known_a = np.array(sorted(min(k, free) for k in known), np.int64)
    n = a.size
    tick = max(int(a[0]), free) // period

    def out():
        return np.empty(n, np.bool_), np.empty(n, np.int64), np.empty(n, np.int64)

    acc1, s1, e1 = out()
    want = queue_time(a, body, known_a, free, depth, 7, num, den, acc1, s1, e1)
    acc2, s2, e2 = out()
    row = np.zeros(3, np.int64)
    got = queue_time_in_tick(a, body, known_a, free, depth, 7, num, den, acc2, s2, e2, period,
                             tick, row, 1_000, 2)
    m = want[1]
    one_tick = m > 0 and s1[0] // period == tick and s1[m - 1] // period == tick
    assert got[0] == (0 if one_tick else 2) and got[1:] == want[1:]
    assert acc2.tolist() == acc1.tolist() and s2[:m].tolist() == s1[:m].tolist()
    assert e2[:m].tolist() == e1[:m].tolist()
    peak = np.zeros(3, np.int64)
    if one_tick:
        queue_peak(a[acc1], s1[:m], known_a, peak, 1_000, 2)
    assert row.tolist() == peak.tolist()  # booked only when the batch starts in the one tick


@settings(max_examples=80, deadline=None)
@given(flushes=st.lists(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 60)), max_size=30),
                        max_size=5),
       lazy=st.lists(st.booleans(), min_size=5, max_size=5))
def test_inbox_holds_each_lazy_pes_packets_in_delivery_order_and_grows(flushes, lazy):
    # the per-destination chunks it replaces: per flush, by destination then arrival
    lazy = np.array(lazy)
    ib = Inbox(5, row=2)  # tiny rows: growth is exercised
    chunks = {d: [] for d in range(5)}
    blocks = {}  # key -> [words, payload 0..3]
    for f, deliveries in enumerate(flushes):
        dpe = np.array([d[0] for d in deliveries], np.int64)
        dps = np.array([d[1] for d in deliveries], np.int64)
        dpk = np.arange(dpe.size, dtype=np.int64)
        keys = (dpk + 100 * f).astype(np.uint32)
        widths = np.full(dpe.size, f % 4 + 1, np.uint32)  # later flushes widen the blocks
        pay = np.stack([keys * 3, keys + 1, keys + 2, keys + 3], axis=1).astype(np.uint32)
        pay[:, f % 4 + 1:] = 0  # zero-padded beyond the width
        order, gd, gs = group_by_destination(dpe, dps, 5)
        args = (order, gd, gs, dpk, dps, keys, widths, pay, lazy)
        need, words = inbox_put(*args, ib.a, ib.b, ib.x, ib.n)
        if need or words:
            assert need > ib.a.shape[1] or (need == 0 and words > 1 and not ib.x.shape[1])
            ib.grow(need, words)
            assert inbox_put(*args, ib.a, ib.b, ib.x, ib.n) == (0, 0)
        for i in order.tolist():
            chunks[int(dpe[i])].append((int(dps[i]), int(keys[i]), int(pay[i, 0])))
            blocks[int(keys[i])] = [int(widths[i])] + pay[i].tolist()
    for d in range(5):
        got = ib.take(d)
        if not lazy[d] or not chunks[d]:
            assert got is None
            continue
        a, b = got
        # taken in arrival order, ties in delivery order
        assert [(int(x), int(k), int(p)) for x, k, p in zip(a, b[:, 0], b[:, 2],
                                                             strict=True)] == sorted(
            chunks[d], key=lambda c: c[0])
        for row in b.tolist():  # every word of each block, the zero padding included
            assert (row[1:] + [0] * 4)[:5] == blocks[row[0]]
        assert ib.take(d) is None  # taken: the row is empty


@settings(max_examples=100, deadline=None)
@given(arrivals=st.lists(st.integers(0, 5_000), min_size=1, max_size=30),
       delays=st.lists(st.integers(0, 800), min_size=30, max_size=30),
       prev=st.lists(st.integers(0, 5_000), max_size=6), col_ps=st.integers(100, 3_000))
def test_queue_peak_counts_the_packets_not_yet_started(arrivals, delays, prev, col_ps):
    a = np.sort(np.array(arrivals, np.int64))
    start = np.empty_like(a)  # FIFO with handlers of positive duration: starts ascend strictly
    t = -1
    for i, x in enumerate(a.tolist()):
        start[i] = t = max(x, t + 1 + delays[i])
    prev = np.sort(np.array(prev, np.int64))
    last = 3
    row = np.zeros(last + 1, np.int64)
    queue_peak(a, start, prev, row, col_ps, last)
    want = np.zeros(last + 1, np.int64)
    for i, t in enumerate(a.tolist()):  # packet by packet: those before it not started yet
        w = sum(1 for s in start[:i + 1].tolist() if s > t)
        if prev.size and prev[-1] > a[0]:
            w += sum(1 for s in prev.tolist() if s > t)
        k = min(t // col_ps, last)
        want[k] = max(want[k], w)
    assert row.tolist() == want.tolist()


@settings(max_examples=80, deadline=None)
@given(batches=st.lists(st.lists(st.integers(0, 50), max_size=12), min_size=1, max_size=4),
       horizons=st.lists(st.integers(0, 60), min_size=1, max_size=6))
def test_inbox_take_splits_at_the_horizon_as_the_chunks_did(batches, horizons):
    """Partial takes: the packets before the horizon in arrival order (ties in delivery order),
    the rest kept for the next take, as the per-PE chunk list (sorted remainder + later
    deliveries, stably sorted at each take) it replaces."""
    ib = Inbox(1, row=2)
    pending = []  # the chunk model: (arrival, key) in queue order
    key = 0
    for arrivals, horizon in zip(batches, horizons * len(batches), strict=False):
        n = len(arrivals)
        dps = np.array(arrivals, np.int64)
        dpe = np.zeros(n, np.int64)
        keys = np.arange(key, key + n, dtype=np.uint32)
        key += n
        order, gd, gs = group_by_destination(dpe, dps, 1)
        args = (order, gd, gs, np.arange(n, dtype=np.int64), dps, keys,
                np.ones(n, np.uint32), np.zeros((n, 4), np.uint32), np.ones(1, bool))
        need, words = inbox_put(*args, ib.a, ib.b, ib.x, ib.n)
        if need or words:
            ib.grow(need, words)
            inbox_put(*args, ib.a, ib.b, ib.x, ib.n)
        pending += [(int(dps[i]), int(keys[i])) for i in order.tolist()]
        pending.sort(key=lambda c: c[0])  # stable: ties keep their queue order
        want = [c for c in pending if c[0] < horizon]
        pending = [c for c in pending if c[0] >= horizon]
        got = ib.take(0, horizon)
        if not want:
            assert got is None
        else:
            assert list(zip(got[0].tolist(), got[1][:, 0].tolist(), strict=True)) == want
        assert int(ib.n[0]) == len(pending)


@settings(max_examples=150, deadline=None)
@given(at=st.lists(st.integers(0, 2**40), min_size=1, max_size=20),
       start=st.integers(0, 2**40), limit=st.integers(0, 2**41),
       f=st.sampled_from([150e6, 300e6, 1e9, 7.3e6, 1.0]))
def test_send_times_equal_cycles_to_ps(at, start, limit, f):
    a = np.array(at, np.int64)
    num, den = ps_per_cycle_ratio(f)
    status, t = send_times(a, start, 7, limit, num, den)
    if max(at) > limit:
        assert status == 1
    elif (max(at) + 7) * num >= 2**62:
        assert status == 2  # the caller takes cycles_to_ps's exact path
    else:
        assert status == 0 and t.tolist() == (start + cycles_to_ps(7 + a, f)).tolist()


@settings(max_examples=150, deadline=None)
@given(keys=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=12),
       bits=st.integers(0, 2**32 - 1))
def test_common_masked(keys, bits):
    k = np.array(keys, np.uint32)
    m = {x & bits for x in keys}
    assert common_masked(k, bits) == (m.pop() if len(m) == 1 else -1)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 2, 4])),
                     min_size=1, max_size=12), cols=st.sampled_from([3, 6]))
def test_block_fields(rows, cols):
    blk = np.zeros((len(rows), cols), np.uint32)
    blk[:, 0] = [r[0] for r in rows]
    blk[:, 1] = [min(r[1], cols - 2) for r in rows]
    keys, w = block_fields(blk)
    assert keys.dtype == np.uint32 and keys.flags.c_contiguous
    assert keys.tolist() == blk[:, 0].tolist() and w == int(blk[:, 1].max())
    # a take from the inbox gives the same fields of the blocks it takes
    qa = np.arange(len(rows), dtype=np.int64)[None, :]
    qb = blk[None, :, :].copy()
    qx = np.zeros((1, len(rows), 3), np.uint32)  # words 1..: not looked at here (w <= 4)
    a, taken, keys2, w2 = inbox_take(qa, qb[:, :, :3].copy(), qx, np.array([len(rows)]), 0,
                                     1 << 40)
    assert keys2.tolist() == keys.tolist() and w2 == w
    assert np.array_equal(taken[:, :3], blk[:, :3])


@settings(max_examples=100, deadline=None)
@given(pk=st.lists(st.tuples(st.integers(0, 3), st.integers(-1, 2), st.integers(0, 9),
                             st.integers(1, 5)), max_size=20))
def test_book_sends_as_add_at(pk):
    ks = np.array([p[0] for p in pk], np.int64)
    srcpe = np.array([p[1] for p in pk], np.int64)
    hops = np.array([p[2] for p in pk], np.int64)
    flits = np.array([p[3] for p in pk], np.int64)
    got = [np.zeros(4, np.int64) for _ in range(4)] + [np.zeros((3, 4), np.int64)]
    book_sends(ks, srcpe, hops, flits, *got)
    want = [np.zeros(4, np.int64) for _ in range(4)] + [np.zeros((3, 4), np.int64)]
    np.add.at(want[0], ks, 1)
    np.add.at(want[1], ks, 1)
    np.add.at(want[2], ks, flits)
    np.add.at(want[3], ks, hops)
    pe = srcpe >= 0
    np.add.at(want[4], (srcpe[pe], ks[pe]), 1)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w)


@settings(max_examples=100, deadline=None)
@given(a=st.lists(st.integers(-5, 5), max_size=10), flip=st.integers(0, 20))
def test_same_values(a, flip):
    x = np.array(a, np.int64)
    y = x.copy()
    if flip < y.size:
        y[flip] += 1
    assert same_values(x, y) == np.array_equal(x, y)
