"""Decoder block (``--decoder chip``): a block of vocabulary rows of the tied embedding/decoder
table held on the chip, doing both of the table's jobs for its rows.

Everything about this core kind lives here (``firmware_py.kinds.base`` says what a kind holds):

- **Storage**: the block's rows of the table E (V × D) as CSC — for each of the D columns the
  ascending local rows holding a nonzero and their values — so that an event of top-layer unit j
  touches only column j (the event-driven decoder) and a token's row is found by bisection in
  each column. Values are stored as float16 when every value of the table is a float16 (the
  pruned paper-shape table is generated so; the M4F converts with VCVTB), else as float32; local
  row indices are uint16; column pointers uint16 while the block holds at most 65,535 nonzeros.
  Per row: its decoder bias and two parity logit accumulators (float32).
- **Embedding lookup** (the input of step t): the host sends token t as one packet (key
  ``TOKEN_SRC | block | parity | local row``) during tick interval t to the block that holds its
  row; the packet handler bisects each column for the row and sends each nonzero value found to
  the input-source PE (key ``EMBED_SRC | block | parity | column``, payload float32), which
  stores it as it would a host value and emits the step at tick t+1 as usual — the pipeline's
  front is unchanged.
- **Decoder** (logits = y_top · Eᵀ + b): per last-layer event (unit j, value x) the handler adds
  x · E[r, j] (VMLA, float32) into the logit of every row r of column j, into the accumulator of
  the step's parity; at tick t+2+L (``firmware_py.pipeline.decoder_first_tick``) the tick handler
  adds the biases, finds the block's best row (first of the largest: ``np.argmax``'s rule) and
  zeroes the accumulators; a user event then sends (best logit, global row) to the readout at the
  block's slot after the send schedule's end (one slot per block, so the readout's queue never
  holds more than one of them). The readout keeps the best over the blocks (ties: the lower
  row) and sends the step's token to the host one tick later.
- **SRAM and cycle estimate** (``block_regions``, ``row_costs``, ``fixed_costs``), **DES program**
  (``DecoderProgram``) and **analytic counts** (``DecoderKind.book_counts``), from the one cost
  model (``firmware_py.cost``).

Numerics: each logit is accumulated in the order the events arrive (float32, rounded product
and sum, as the EGRU slices do) and the oracle (``chip_decoder_tokens``) sums in ascending unit
order; the two orders agree where the events arrive in unit order and otherwise differ by
float32 rounding, which moves the argmax only at a near tie — the engines count token
mismatches explicitly.
"""

from __future__ import annotations

import math

import numpy as np

from firmware_py.cost import CostModel
from firmware_py.keys import (
    DECODER_SRC,
    EMBED_SRC,
    PARITY_BIT,
    SLICE_MASK,
    SLICE_SHIFT,
    SRC_SHIFT,
    TOKEN_SRC,
    UNIT_MASK,
    egru_src,
    key_base,
    make_keys,
)
from firmware_py.kinds.base import CONFIG_BYTES, AnalyticContext, BuildContext, CoreKind, aligned
from firmware_py.kinds.egru_slice import rowptr_bytes
from firmware_py.schedule import delay_until
from s2sim.hw.runtime import Program

__all__ = ["DecoderKind", "DecoderProgram", "BlockTable", "block_regions", "row_costs",
           "fixed_costs", "table_value_bytes", "chip_decoder_tokens", "token_packets",
           "MAX_ROWS_PER_BLOCK", "EST_PROBES"]

_F32 = np.float32
ROW_INDEX_BYTES = 2  # local row of a nonzero: uint16
MAX_ROWS_PER_BLOCK = 1 << 16
ROW_STATE_BYTES = 4 + 2 * 4  # bias + two parity logits, float32
# Bisection probes per column assumed when sizing a block before its rows are known (a column of
# up to 255 nonzeros in the block); the programs count the real ones.
EST_PROBES = 8
N_REGIONS = 6


def table_value_bytes(table: np.ndarray) -> int:
    """2 when every value of the table is a float16 (stored so, exactly), else 4."""
    from models.egru.checkpoint import exact_in_float16

    return 2 if exact_in_float16(table) else 4


def block_regions(n_rows: int, dim: int, nnz: int, value_bytes: int, align: int) -> dict:
    """SRAM regions (name -> bytes, aligned) of a decoder block."""
    return aligned({
        "col_ptr": (dim + 1) * rowptr_bytes(nnz),  # same rule as the slices' row pointers
        "row_idx": nnz * ROW_INDEX_BYTES,
        "values": nnz * value_bytes,
        "bias": 4 * n_rows,
        "logits": 2 * 4 * n_rows,  # two parities
        "config": CONFIG_BYTES,
    }, align)


def _nnz_piece(value_bytes: int) -> str:
    return "decoder_nnz" if value_bytes == 2 else "decoder_nnz_f32"


def row_costs(cm: CostModel, nnz_per_row: np.ndarray, activity: float,
              value_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, expected cycles per step) each row adds to a block: its stored values, its state,
    the events' work on its nonzeros (a fraction ``activity`` of the top layer fires) and the
    tick's scan."""
    nnz = np.asarray(nnz_per_row, np.int64)
    nbytes = nnz * (value_bytes + ROW_INDEX_BYTES) + ROW_STATE_BYTES
    cycles = activity * nnz * cm.c(_nnz_piece(value_bytes)) + cm.c("decoder_row")
    return nbytes.astype(np.int64), cycles


def fixed_costs(cm: CostModel, dim: int, activity: float, align: int,
                probes: int = EST_PROBES) -> tuple[int, int]:
    """(bytes, cycles per step) of a block that do not depend on its rows: column pointers,
    constants, alignment; the tick, the top layer's expected events and a token's lookup (any
    block may hold the step's token)."""
    nbytes = (dim + 1) * 2 + CONFIG_BYTES + N_REGIONS * (align - 1)
    lookup = cm.c("decoder_token") + cm.irq_cycles + dim * (cm.c("decoder_column")
                                                           + probes * cm.c("decoder_probe"))
    events = int(math.ceil(activity * dim)) * (cm.c("decoder_event") + cm.irq_cycles)
    send = cm.c("decoder_send") + cm.irq_cycles
    return int(nbytes), int(cm.c("decoder_tick") + lookup + events + send)


# -- the data one block holds ------------------------------------------------------------------

class BlockTable:
    """A block's rows of the table as CSC (columns = embedding dimensions), and its biases."""

    def __init__(self, table: np.ndarray, bias: np.ndarray, rows: np.ndarray):
        self.rows = np.asarray(rows, np.int64)  # global vocabulary rows, ascending
        sub = np.asarray(table[self.rows], _F32)  # (n_rows, D)
        cols, local = np.nonzero(sub.T)  # column-major: ascending local rows per column
        self.dim = sub.shape[1]
        self.col_ptr = np.zeros(self.dim + 1, np.int64)
        np.cumsum(np.bincount(cols, minlength=self.dim), out=self.col_ptr[1:])
        self.local_rows = local.astype(np.int64)
        self.values = sub.T[cols, local].astype(_F32)
        self.bias = np.asarray(bias, _F32)[self.rows]
        self.nnz = int(self.values.size)
        # a lookup bisects every column: its probes are the same for every row of the block
        self.probes = int(np.sum(np.ceil(np.log2(np.diff(self.col_ptr) + 1)).astype(np.int64)))
        self.row_nnz = np.bincount(self.local_rows, minlength=self.rows.size).astype(np.int64)

    def column(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.col_ptr[j], self.col_ptr[j + 1]
        return self.local_rows[a:b], self.values[a:b]

    def lookup(self, local_row: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(columns, values, bisection probes) of row ``local_row``, as the handler finds them:
        one bisection per column, columns ascending."""
        pos = np.flatnonzero(self.local_rows == local_row)
        cols = np.searchsorted(self.col_ptr, pos, side="right") - 1
        return cols.astype(np.int64), self.values[pos], self.probes


def chip_decoder_tokens(y_top: np.ndarray, table: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The oracle of the on-chip decoder: per step argmax_r (y_top · Eᵀ + b) in float32 (first
    of the largest), from the active units' columns only."""
    y = np.asarray(y_top, _F32)
    out = np.zeros(y.shape[0], np.int64)
    Et = np.ascontiguousarray(np.asarray(table, _F32).T)
    for t in range(y.shape[0]):
        act = np.flatnonzero(y[t])
        logits = (y[t, act] @ Et[act]).astype(_F32) + np.asarray(bias, _F32)
        out[t] = int(np.argmax(logits))
    return out


def token_packets(mapping, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(block index, local row, key) of each step's token packet from the host."""
    blocks = mapping.decoder_slices()
    owner = np.zeros(mapping.vocab_size, np.int64)
    local = np.zeros(mapping.vocab_size, np.int64)
    for s in blocks:
        rows = np.asarray(s.units, np.int64)
        owner[rows] = s.index
        local[rows] = np.arange(rows.size)
    tok = np.asarray(tokens, np.int64)
    b, r = owner[tok], local[tok]
    parity = np.arange(tok.size, dtype=np.int64) & 1
    keys = (key_base(TOKEN_SRC, b) | (parity << PARITY_BIT) | r).astype(np.uint32)
    return b, r, keys


def _send_offset_cycles(mapping, s) -> int:
    """When block ``s`` sends its best row, from the tick's start: after the send schedule's end
    (+ a NoC crossing), one readout handler slot per block (``SendSchedule.decoder_*``)."""
    sch = mapping.schedule
    return int(sch.decoder_start_cycles) + s.index * int(sch.decoder_slot_cycles)


# -- the DES program ----------------------------------------------------------------------------

class DecoderProgram(Program):
    name = "decoder"
    lazy_packets = False  # token packets send from their handler

    def __init__(self, block: BlockTable, index: int, value_bytes: int, cost: CostModel,
                 regions: dict[str, int], unit_of: dict[int, np.ndarray], n_layers: int,
                 first_tick: int, last_tick: int, send_offset: int, tick_period_ps: int):
        self.block = block
        self.index = int(index)
        self.value_bytes = int(value_bytes)
        self.cost = cost
        self.regions = dict(regions)
        self.unit_of = unit_of  # last-layer slice index -> its global units
        self.src = egru_src(n_layers - 1)
        self.first_tick = int(first_tick)
        self.last_tick = int(last_tick)
        self.send_offset = int(send_offset)
        self.tick_period_ps = int(tick_period_ps)
        self.acc = np.zeros((2, block.rows.size), _F32)
        self.embed_base = key_base(EMBED_SRC, index)
        self.best_base = key_base(DECODER_SRC, index)
        self.late_packets = 0
        self._pending = None  # (tick, local best, logit)

    def sram_regions(self) -> dict[str, int]:
        return dict(self.regions)

    def consumes(self) -> set[int]:
        return {TOKEN_SRC, self.src}

    def on_packets(self, pe, keys, payloads) -> np.ndarray:
        k = np.asarray(keys, np.uint32).astype(np.int64)
        src = (k >> SRC_SHIFT) & 0xFF
        parity = (k >> PARITY_BIT) & 1
        ok = parity == (int(pe.tick) & 1)
        self.late_packets += int((~ok).sum())
        cyc = np.zeros(k.size, np.int64)
        cm = self.cost
        nnz_c = cm.c(_nnz_piece(self.value_bytes))
        vals = np.ascontiguousarray(payloads[:, 0]).view(np.float32)
        before = 0  # cycles of the batch's handlers before packet i
        for i in range(k.size):
            if not ok[i]:
                cyc[i] = cm.c("decoder_event")
            elif src[i] == TOKEN_SRC:
                cyc[i] = self._token(pe, int(k[i] & UNIT_MASK), int(parity[i]), before)
            else:
                sl, local = int((k[i] >> SLICE_SHIFT) & SLICE_MASK), int(k[i] & UNIT_MASK)
                rows, w = self.block.column(int(self.unit_of[sl][local]))
                acc = self.acc[parity[i]]
                acc[rows] = acc[rows] + vals[i] * w  # float32: rounded product, rounded sum
                cyc[i] = cm.c("decoder_event") + rows.size * nnz_c
                ev, nz = cm.work("decoder_event"), cm.work(_nnz_piece(self.value_bytes))
                pe.count(cpu_macs=int(rows.size),
                         sram_read_bytes=ev.sram_read_bytes + rows.size * nz.sram_read_bytes,
                         sram_written_bytes=rows.size * nz.sram_written_bytes)
            before += int(cyc[i])
        return cyc

    def _token(self, pe, local_row: int, parity: int, before: int) -> int:
        """Look up the token's row and send its values to the input source; handler cycles."""
        cm = self.cost
        cols, vals, probes = self.block.lookup(local_row)
        c = (cm.c("decoder_token") + self.block.dim * cm.c("decoder_column")
             + probes * cm.c("decoder_probe"))
        send = cm.c("decoder_embed_send")
        if cols.size:
            at = before + c + send * np.arange(1, cols.size + 1, dtype=np.int64)
            pe.send(make_keys(self.embed_base, cols, parity),
                    vals.astype(_F32).view(np.uint32).reshape(-1, 1), at_cycles=at)
        col, pr, es = (cm.work(x) for x in ("decoder_column", "decoder_probe",
                                             "decoder_embed_send"))
        pe.count(sram_read_bytes=self.block.dim * col.sram_read_bytes + probes * pr.sram_read_bytes
                 + cols.size * es.sram_read_bytes)
        return int(c + cols.size * send)

    def on_tick(self, pe, tick: int) -> None:
        cm = self.cost
        if not self.first_tick <= tick <= self.last_tick:
            pe.charge(cm.c("decoder_tick"))
            return
        p = (tick - 1) & 1
        logits = self.acc[p] + self.block.bias
        best = int(np.argmax(logits))
        self.acc[p] = 0
        n = self.block.rows.size
        charged = cm.c("decoder_tick") + n * cm.c("decoder_row")
        pe.charge(charged)
        row = cm.work("decoder_row")
        pe.count(sram_read_bytes=n * row.sram_read_bytes,
                 sram_written_bytes=n * row.sram_written_bytes)
        self._pending = (tick, best, logits[best])
        target = tick * self.tick_period_ps + int(round(self.send_offset * 1e12 / pe.frequency_hz))
        pe.user_event("best", delay_cycles=delay_until(pe, target, charged))

    def on_user_event(self, pe, arg) -> None:
        if self._pending is None:
            return
        tick, best, logit = self._pending
        self._pending = None
        pe.charge(self.cost.c("decoder_send"))
        payload = np.array([[np.float32(logit).view(np.uint32), self.block.rows[best]]],
                           np.uint32)
        pe.send(make_keys(self.best_base, np.array([0]), tick & 1), payload)


# -- the kind ------------------------------------------------------------------------------------

def _blocks(ctx, mapping, network) -> dict[int, BlockTable]:
    """Block index -> BlockTable, built once per run (the analytic engine's ``run_cache``
    outlives its windows; a DES build has one ``cache``)."""
    cache = getattr(ctx, "run_cache", ctx.cache)
    if "decoder_blocks" not in cache:
        table, bias = network.input.embedding, network.model.decoder_bias
        cache["decoder_blocks"] = {s.index: BlockTable(table, bias, np.asarray(s.units))
                                   for s in mapping.decoder_slices()}
    return cache["decoder_blocks"]


class DecoderKind(CoreKind):
    name = "decoder"

    def idle_tick_cycles(self, cm: CostModel) -> int:
        return cm.c("decoder_tick")

    def schedule_costs(self, s, network, cm: CostModel, cache: dict) -> tuple[int, int]:
        vb = network.table_stats()[1]
        mean_col = s.nnz_w / max(1, s.n_in)
        mean_event = int(math.ceil(cm.c("decoder_event") + mean_col * cm.c(_nnz_piece(vb))))
        return mean_event, cm.c("decoder_tick") + len(s.units) * cm.c("decoder_row")

    def program(self, ctx: BuildContext, s) -> DecoderProgram:
        m = ctx.mapping
        blocks = _blocks(ctx, m, ctx.network)
        L = m.n_layers
        unit_of = {x.index: np.asarray(x.units, np.int64) for x in m.layer_slices(L - 1)}
        return DecoderProgram(blocks[s.index], s.index, ctx.network.table_stats()[1],
                              ctx.cost, s.regions, unit_of, L, s.first_tick, ctx.last_tick(s),
                              _send_offset_cycles(m, s), m.tick_period_ps)

    def book_counts(self, ctx: AnalyticContext, s) -> None:
        cm, irq, m = ctx.cost, ctx.irq, ctx.mapping
        blk = _blocks(ctx, m, ctx.network)[s.index]
        vb = ctx.network.table_stats()[1]
        pe_id = m.placement[s.id]
        steps = ctx.steps
        # the token lookups this block serves (interval t of step t)
        tok = ctx.cache.get("decoder_tokens_window")
        if tok is not None:
            b, local = tok
            mine = np.flatnonzero(b == s.index)
            if mine.size:
                self._book_lookups(ctx, s, blk, pe_id, steps[mine], local[mine])
        # the top layer's events of step t arrive in the tick before the block's
        y = ctx.ys[m.n_layers - 1] != 0
        col_nnz = np.diff(blk.col_ptr)
        n_ev = y.sum(axis=1).astype(np.int64)
        nnz = (y.astype(np.int64) @ col_nnz).astype(np.int64)
        ev, nz = cm.work("decoder_event"), cm.work(_nnz_piece(vb))
        ctx.book(pe_id, steps + s.first_tick - 1,
                 active_cycles=n_ev * (ev.cycles + irq) + nnz * nz.cycles,
                 packets_received=n_ev, handlers=n_ev, cpu_macs=nnz,
                 sram_read_bytes=n_ev * ev.sram_read_bytes + nnz * nz.sram_read_bytes,
                 sram_written_bytes=nnz * nz.sram_written_bytes)
        n = blk.rows.size
        row = cm.work("decoder_row")
        T = ctx.n_steps
        ctx.book(pe_id, steps + s.first_tick,
                 active_cycles=np.full(T, cm.c("decoder_tick") + n * row.cycles + irq
                                       + cm.c("decoder_send") + irq),
                 handlers=2, packets_sent=1, sram_read_bytes=n * row.sram_read_bytes,
                 sram_written_bytes=n * row.sram_written_bytes)

    def _book_lookups(self, ctx, s, blk: BlockTable, pe_id: int, steps, local) -> None:
        cm, irq = ctx.cost, ctx.irq
        probes, found = blk.probes, blk.row_nnz[local]
        col, pr, es = (cm.work(x) for x in ("decoder_column", "decoder_probe",
                                             "decoder_embed_send"))
        c = cm.c("decoder_token") + blk.dim * col.cycles + probes * pr.cycles
        ctx.book(pe_id, steps, active_cycles=c + irq + found * es.cycles, packets_received=1,
                 handlers=1, packets_sent=found,
                 sram_read_bytes=blk.dim * col.sram_read_bytes + probes * pr.sram_read_bytes
                 + found * es.sram_read_bytes)


def step_traffic(mapping, geo: dict, tokens: np.ndarray, in_events: np.ndarray) -> dict:
    """Per step, the decoder's packets and their NoC hops besides the EGRU events (``geo``:
    ``s2sim.engine.common.route_geometry``): ``front_packets``/``front_hops`` in step t's
    interval (the host's token to its block, the embedding values block -> input source),
    ``best_packets``/``best_hops`` at the blocks' tick (their best rows -> readout) and
    ``host_packets`` (the tokens)."""
    owner, _, _ = token_packets(mapping, tokens)
    blocks = mapping.decoder_slices()
    tok_hops = np.array([geo.get(f"token:{s.id}", 0) for s in blocks], np.int64)
    emb_hops = np.array([geo.get(f"embed:{s.id}", 0) for s in blocks], np.int64)
    host = np.ones(owner.size, np.int64)
    T = owner.size
    return {"host_packets": host, "front_packets": host + in_events,
            "front_hops": tok_hops[owner] + in_events * emb_hops[owner],
            "best_packets": np.full(T, len(blocks), np.int64),
            "best_hops": np.full(T, sum(geo.get(s.id, 0) for s in blocks), np.int64)}
