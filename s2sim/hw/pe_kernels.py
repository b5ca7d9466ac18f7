"""The numba kernels of the PE event loop (event_loop.py): batch timing, queue acceptance and
the grouping of a flush's deliveries by destination.

They run once per packet batch, over the whole batch, so no Python runs per packet. The NoC's own
kernel (link reservations) is in noc.py.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def time_serial(a, body, overhead, num, den, free, start, end):  # pragma: no cover - compiled
    """Serial timing of one batch: ``start_i = max(a_i, end_{i-1})`` (``end_{-1} = free``),
    ``end_i = start_i + ceil((body_i + overhead) * num / den)`` ps (as ``cycles_to_ps``).

    Returns ``(status, total_cycles, total_ps)``: status -1 if a body is negative, 1 if
    ``cycles * num`` could overflow int64 (the caller then uses exact Python integers), else 0.
    """
    limit = (1 << 62) // num
    total_c = 0
    total_d = 0
    for i in range(body.shape[0]):
        if body[i] < 0:
            return -1, 0, 0
        if body[i] + overhead >= limit:
            return 1, 0, 0
    t = free
    for i in range(body.shape[0]):
        c = body[i] + overhead
        d = (c * num + den - 1) // den
        s = a[i] if a[i] > t else t
        t = s + d
        start[i] = s
        end[i] = t
        total_c += c
        total_d += d
    return 0, total_c, total_d


@numba.njit(cache=True, nogil=True)
def queue_scan(a, known, free, depth, accept):  # pragma: no cover - compiled
    """Which packets (arrivals ``a``, sorted) the queue accepts, as far as it can be decided.

    ``known``: sorted start times of packets already timed (all before ``free``, the time the
    PE can start the next one). A packet is waiting at ``a_r`` if it arrived before and has not
    started. Waiting = known starts after ``a_r`` + accepted-but-untimed packets before r; the
    latter cannot start before ``free``, so for ``a_r < free`` the count is exact, and for
    ``a_r >= free`` it is an upper bound. Accept when it is below ``depth``; drop when it is
    exact; otherwise stop (returns the number of packets decided).
    """
    j = 0
    nk = known.shape[0]
    acc = 0
    for r in range(a.shape[0]):
        while j < nk and known[j] <= a[r]:
            j += 1
        w = nk - j + acc
        if w < depth:
            accept[r] = True
            acc += 1
        elif a[r] < free:
            accept[r] = False
        else:
            return r
    return a.shape[0]


@numba.njit(cache=True, nogil=True)
def queue_time(a, body, known, free, depth, overhead, num, den, accept, start,
               end):  # pragma: no cover - compiled
    """Queue acceptance and serial timing of a whole batch whose per-packet cycles ``body`` are
    known before it runs (``Program.packet_cycles``): the decisions ``queue_scan`` makes piece
    by piece, made exactly in one pass. A packet is waiting at ``a_r`` if it started after
    ``a_r``: the ``known`` starts of earlier batches and the starts of the accepted packets of
    this one (timed as they are accepted, as ``time_serial``). Accepted packets' starts and ends
    go to the front of ``start``/``end``.

    Returns ``(status, n_accepted, total_cycles, total_ps)``: status -1 if a body is negative,
    1 if ``cycles * num`` could overflow int64 (the caller then takes the piecewise path)."""
    limit = (1 << 62) // num
    for i in range(body.shape[0]):
        if body[i] < 0:
            return -1, 0, 0, 0
        if body[i] + overhead >= limit:
            return 1, 0, 0, 0
    j = 0
    nk = known.shape[0]
    q = 0  # accepted packets of this batch that have started by a_r
    n_acc = 0
    t = free
    total_c = 0
    total_d = 0
    for r in range(a.shape[0]):
        while j < nk and known[j] <= a[r]:
            j += 1
        while q < n_acc and start[q] <= a[r]:
            q += 1
        if nk - j + n_acc - q < depth:
            accept[r] = True
            c = body[r] + overhead
            d = (c * num + den - 1) // den
            s = a[r] if a[r] > t else t
            t = s + d
            start[n_acc] = s
            end[n_acc] = t
            n_acc += 1
            total_c += c
            total_d += d
        else:
            accept[r] = False
    return 0, n_acc, total_c, total_d


@numba.njit(cache=True, nogil=True)
def queue_time_in_tick(a, body, known, free, depth, overhead, num, den, accept, start, end,
                       period, tick, peak_row, col_ps, last_col):  # pragma: no cover - compiled
    """``queue_time`` of a batch that must start all in tick ``tick`` (``period`` ps per tick):
    status 2 (nothing booked) if an accepted packet starts in another, or none is accepted;
    else its ``queue_peak`` (``known``: the earlier starts) is booked into ``peak_row``. One
    call for the event loop's known-cycles batch (``PECore._run_batch_known_cycles``)."""
    status, n_acc, total_c, total_d = queue_time(a, body, known, free, depth, overhead, num,
                                                 den, accept, start, end)
    if status != 0:
        return status, n_acc, total_c, total_d
    if n_acc == 0 or start[0] // period != tick or start[n_acc - 1] // period != tick:
        return 2, n_acc, total_c, total_d
    if n_acc < a.shape[0]:
        queue_peak(a[accept], start[:n_acc], known, peak_row, col_ps, last_col)
    else:
        queue_peak(a, start, known, peak_row, col_ps, last_col)
    return 0, n_acc, total_c, total_d


@numba.njit(cache=True, nogil=True)
def group_by_destination(dpe, dps, n_dest):  # pragma: no cover - compiled
    """Deliveries (destination ``dpe``, arrival ``dps``) ordered by destination, then arrival,
    ties in their given order: the permutation ``np.lexsort((dps, dpe))``, in O(n) for the
    nearly sorted arrivals of one flush (counting sort by destination, then a stable sort of
    each group's arrivals only when they are out of order).

    Returns ``(order, group_dest, group_start)``: the permutation, the destination of each
    group and where each group starts in it (one more entry: n)."""
    n = dpe.shape[0]
    start = np.zeros(n_dest + 1, np.int64)
    for i in range(n):
        start[dpe[i] + 1] += 1
    n_groups = 0
    for d in range(n_dest):
        if start[d + 1]:
            n_groups += 1
        start[d + 1] += start[d]
    pos = start[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        d = dpe[i]
        order[pos[d]] = i
        pos[d] += 1
    group_dest = np.empty(n_groups, np.int64)
    group_start = np.empty(n_groups + 1, np.int64)
    g = 0
    for d in range(n_dest):
        a, b = start[d], start[d + 1]
        if b == a:
            continue
        group_dest[g] = d
        group_start[g] = a
        g += 1
        for i in range(a + 1, b):
            if dps[order[i]] < dps[order[i - 1]]:
                idx = order[a:b].copy()
                order[a:b] = idx[np.argsort(dps[idx], kind="mergesort")]
                break
    group_start[n_groups] = n
    return order, group_dest, group_start


@numba.njit(cache=True, nogil=True)
def inbox_put(order, group_dest, group_start, dpk, dps, keys, widths, pay, lazy, qa, qb, qx,
              qn):  # pragma: no cover - compiled
    """Append one flush's deliveries to lazy PEs to their inbox rows, group by group of
    ``group_by_destination`` (``order``, ``group_dest``, ``group_start``: by destination, then
    arrival): arrival ``qa[d, qn[d]]``, block ``qb[d, qn[d]] = [key, words, payload 0]`` and,
    for a packet of more than one word, its words 1.. in ``qx[d, qn[d]]`` (``Inbox``), of
    packet ``dpk[i]``; then ``qn[d] += 1``. Groups of PEs that are not ``lazy`` are left out
    (the caller queues those).

    Returns (0, 0), or (nothing written) the row length and the payload words the inbox needs
    to hold them all (0: enough)."""
    need = 0
    for g in range(group_dest.shape[0]):
        d = group_dest[g]
        if lazy[d]:
            m = qn[d] + group_start[g + 1] - group_start[g]
            if m > need:
                need = m
    if need <= qa.shape[1]:
        need = 0
    w = 1 + (qx.shape[2] if qx.shape[1] else 0)  # payload words the inbox holds
    words = 0
    for p in range(widths.shape[0]):
        if widths[p] > w and widths[p] > words:
            words = widths[p]
    if need or words:
        return need, np.int64(words)
    w0 = min(1, pay.shape[1])
    for g in range(group_dest.shape[0]):
        d = group_dest[g]
        if not lazy[d]:
            continue
        row_a, row_b, row_x = qa[d], qb[d], qx[d]
        q = qn[d]
        for i in range(group_start[g], group_start[g + 1]):
            j = order[i]
            p = dpk[j]
            row_a[q] = dps[j]
            blk = row_b[q]
            blk[0] = keys[p]
            blk[1] = widths[p]
            blk[2] = pay[p, 0] if w0 else 0
            for c in range(1, widths[p]):
                row_x[q, c - 1] = pay[p, c]
            q += 1
        qn[d] = q
    return 0, np.int64(0)


@numba.njit(cache=True, nogil=True)
def inbox_take(qa, qb, qx, qn, i, horizon):  # pragma: no cover - compiled
    """Take PE index ``i``'s inbox packets arriving before ``horizon``: copies of their
    arrivals and blocks, in arrival order, ties in delivery order (the row is first sorted so,
    stably, in place: packets of later flushes may arrive earlier); the packets arriving later
    stay, sorted, at the front of the row. Returns (arrivals, blocks, keys, widest payload w):
    the blocks are [key, words, payload 0 .. w-1] (zero beyond a packet's words), their keys
    and w (``block_fields`` of them)."""
    n = qn[i]
    row_a, row_b, row_x = qa[i], qb[i], qx[i]
    wide = qx.shape[1] > 0
    for r in range(1, n):
        if row_a[r] < row_a[r - 1]:
            order = np.argsort(row_a[:n], kind="mergesort")
            row_a[:n] = row_a[:n][order]
            row_b[:n] = row_b[:n][order]
            if wide:
                row_x[:n] = row_x[:n][order]
            break
    m = np.searchsorted(row_a[:n], horizon, side="left")
    a = row_a[:m].copy()
    keys, w = block_fields(row_b[:m])
    if w <= 1:
        blk = row_b[:m].copy()
    else:  # words 1.. of the wide packets from qx
        blk = np.zeros((m, 2 + w), np.uint32)
        for r in range(m):
            blk[r, :3] = row_b[r]
            for c in range(1, row_b[r, 1]):
                blk[r, 2 + c] = row_x[r, c - 1]
    if m:
        for r in range(m, n):  # the rest to the front (forward: the ranges may overlap)
            row_a[r - m] = row_a[r]
            row_b[r - m] = row_b[r]
            if row_b[r, 1] > 1:
                row_x[r - m] = row_x[r]
        qn[i] = n - m
    return a, blk, keys, np.int64(w)


@numba.njit(cache=True, nogil=True)
def block_fields(blk):  # pragma: no cover - compiled
    """Of packet blocks [key, payload words, payload 0..3] (n, 6): the keys (contiguous) and
    the widest payload (words): the batch's payloads are ``blk[:, 2:2 + w]``."""
    n = blk.shape[0]
    keys = np.empty(n, np.uint32)
    w = 0
    for r in range(n):
        keys[r] = blk[r, 0]
        if blk[r, 1] > w:
            w = blk[r, 1]
    return keys, w


@numba.njit(cache=True, nogil=True)
def queue_peak(a, start, prev, row, col_ps, last_col):  # pragma: no cover - compiled
    """Book the queue depth a batch's packets find: packet i, arriving at ``a[i]``, waits
    behind the accepted packets before it (this batch's ``start`` and the earlier ``prev``)
    that have not started by then, itself included (FIFO: starts ascend, so a count of the
    starts after ``a[i]``); ``row[column of a[i]]`` keeps the most (``col_ps`` per column,
    clipped to ``last_col``)."""
    n, m = a.shape[0], prev.shape[0]
    late_prev = m > 0 and n > 0 and prev[m - 1] > a[0]
    js = 0  # starts <= a[i]: a merge walk (both ascend)
    jp = 0
    # the column of a[i] changes only where a (ascending) crosses a column's bounds: one
    # division per column, not per packet; its most so far is kept in ``most`` until then
    k = -1
    k_start = np.int64(0)
    k_end = np.int64(-1)
    most = 0
    for i in range(n):
        t = a[i]
        while js < start.shape[0] and start[js] <= t:
            js += 1
        w = i + 1 - js
        if late_prev:
            while jp < m and prev[jp] <= t:
                jp += 1
            w += m - jp
        if t >= k_end or t < k_start:
            if k >= 0:
                row[k] = most
            k = t // col_ps
            if k >= last_col:
                k = last_col
                k_end = np.iinfo(np.int64).max
            else:
                k_end = (k + 1) * col_ps
            k_start = k * col_ps
            most = row[k]
        if w > most:
            most = w
    if k >= 0:
        row[k] = most


@numba.njit(cache=True, nogil=True)
def book_sends(ks, srcpe, hops, flits, packets, lookups, noc_flits, noc_hops,
               sent):  # pragma: no cover - compiled
    """The NoC counts of one flush's packets (``ks``: their tick columns): one packet and one
    router lookup each, their flits and hops; and ``sent[srcpe, k] += 1`` for those a PE sent
    (``srcpe`` >= 0; -1: host or chip-link injections)."""
    for i in range(ks.shape[0]):
        k = ks[i]
        packets[k] += 1
        lookups[k] += 1
        noc_flits[k] += flits[i]
        noc_hops[k] += hops[i]
        if srcpe[i] >= 0:
            sent[srcpe[i], k] += 1


@numba.njit(cache=True, nogil=True)
def common_masked(keys, bits):  # pragma: no cover - compiled
    """``keys[0] & bits`` if every key has the same, else -1 (``EventLoop.route_ids``: the keys
    of one send usually share the bits that routing entries look at). ``keys`` not empty."""
    m0 = np.int64(keys[0]) & bits
    for i in range(1, keys.shape[0]):
        if np.int64(keys[i]) & bits != m0:
            return -1
    return m0


@numba.njit(cache=True, nogil=True)
def send_times(at, start, offset, limit, num, den):  # pragma: no cover - compiled
    """Send times ``start + ceil((offset + at_i) * num / den)`` ps (as ``cycles_to_ps``) of a
    handler's packets sent ``at`` cycles into its ``limit`` charged cycles (``offset``: the
    interrupt entry). Returns ``(status, times)``: status 1 if some ``at`` is after ``limit``,
    2 if ``cycles * num`` could overflow int64 (the caller then uses exact Python integers);
    times only with status 0."""
    n = at.shape[0]
    t = np.empty(n, np.int64)
    cap = ((1 << 62) + num - 1) // num  # c * num >= 2**62 from here
    for i in range(n):  # the error first, as the eager check did
        if at[i] > limit:
            return 1, t
    for i in range(n):
        c = offset + at[i]
        if c >= cap or -c >= cap:
            return 2, t
        t[i] = start - ((-c * num) // den)
    return 0, t


@numba.njit(cache=True, nogil=True)
def same_values(a, b):  # pragma: no cover - compiled
    """Whether two arrays of one length hold the same values (no temporary, stops early)."""
    for i in range(a.shape[0]):
        if a[i] != b[i]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def ascending(t):  # pragma: no cover - compiled
    """Whether ``t`` is in ascending order (ties allowed); one pass, no temporaries."""
    for i in range(1, t.shape[0]):
        if t[i] < t[i - 1]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def nonnegative(x):  # pragma: no cover - compiled
    """Whether every value of ``x`` is >= 0 (``x.min() >= 0`` without numpy's reduction
    set-up, which costs more than the loop on a handler's few sends)."""
    for i in range(x.shape[0]):
        if x[i] < 0:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def all_at(flags, idx):  # pragma: no cover - compiled
    """Whether ``flags[idx]`` are all true (``flags[idx].all()`` without the temporary)."""
    for i in range(idx.shape[0]):
        if not flags[idx[i]]:
            return False
    return True
