"""Instantiate the firmware for a Mapping: each slice's core with its share of the weights,
then one Program per PE (a CompositeProgram where a PE holds several slices)."""

from __future__ import annotations

import numpy as np

from firmware_py.cores import CSR, EGRUSliceCore, ReadoutCore
from firmware_py.cost import CostModel
from firmware_py.keys import INPUT_SRC, egru_src

__all__ = ["build_cores", "build_programs", "source_row_order"]


def source_row_order(mapping, layer: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows of layer ``layer``'s W as the PEs store them: (row order, slice offsets, src id)."""
    if layer == 0:
        n = mapping.n_in
        return np.arange(n, dtype=np.int64), np.array([0, n], np.int64), INPUT_SRC
    return _slice_order(mapping, layer - 1) + (egru_src(layer - 1),)


def _slice_order(mapping, layer: int) -> tuple[np.ndarray, np.ndarray]:
    sl = mapping.layer_slices(layer)
    order = np.concatenate([np.asarray(s.units, np.int64) for s in sl])
    offs = np.concatenate([[0], np.cumsum([len(s.units) for s in sl])]).astype(np.int64)
    return order, offs


def _split_by_slice(M: np.ndarray, slice_of_col: np.ndarray, local_of_col: np.ndarray,
                    n_slices: int) -> list[CSR]:
    """Row-major nonzeros of M grouped by the slice owning their column, as one CSR per slice
    (rows = M's rows, columns = the slice's local gate columns)."""
    r, c = np.nonzero(M)
    v = M[r, c]
    sid = slice_of_col[c]
    order = np.argsort(sid, kind="stable")  # stable: row-major order kept within a slice
    r, c, v, sid = r[order], c[order], v[order], sid[order]
    bounds = np.searchsorted(sid, np.arange(n_slices + 1))
    out = []
    n_rows = M.shape[0]
    for k in range(n_slices):
        a, b = bounds[k], bounds[k + 1]
        rowptr = np.zeros(n_rows + 1, np.int64)
        np.cumsum(np.bincount(r[a:b], minlength=n_rows), out=rowptr[1:])
        out.append(CSR(rowptr, local_of_col[c[a:b]].astype(np.int32),
                       v[a:b].astype(np.float32)))
    return out


def build_cores(mapping, network) -> dict[str, object]:
    """slice id -> EGRUSliceCore / ReadoutCore (the input source core needs only a size)."""
    cores: dict[str, object] = {}
    for i, layer in enumerate(network.layers):
        H = layer.hidden
        w_order, w_off, w_src = source_row_order(mapping, i)
        r_order, r_off = _slice_order(mapping, i)
        slices = mapping.layer_slices(i)
        slice_of_col = np.empty(3 * H, np.int64)
        local_of_col = np.empty(3 * H, np.int64)
        gate_cols = []
        for k, s in enumerate(slices):
            U = np.asarray(s.units, np.int64)
            cols = np.concatenate([U, H + U, 2 * H + U])
            slice_of_col[cols] = k
            local_of_col[cols] = np.arange(cols.size)
            gate_cols.append((U, cols))
        Ws = _split_by_slice(layer.W[w_order], slice_of_col, local_of_col, len(slices))
        Rs = _split_by_slice(layer.R[r_order], slice_of_col, local_of_col, len(slices))
        for k, s in enumerate(slices):
            U, cols = gate_cols[k]
            cores[s.id] = EGRUSliceCore(
                Ws[k], Rs[k], layer.b_x[cols], layer.b_r[cols], layer.theta[U], w_src=w_src,
                r_src=egru_src(i), w_off=w_off[:-1], r_off=r_off[:-1])
    L = len(network.layers)
    ro = network.readout
    unit_of = {s.index: np.asarray(s.units, np.int64) for s in mapping.layer_slices(L - 1)}
    cores["readout"] = ReadoutCore(ro.n_in, unit_of, ro.weights, ro.bias, ro.trace)
    return cores


def sender_slot(mapping, s):
    """The SenderSlot of slice ``s`` (None when the mapping has no schedule or s sends nothing)."""
    from firmware_py.schedule import SenderSlot

    sch = mapping.schedule
    if not sch or s.key_base is None:
        return None
    if s.kind == "input":
        # the whole input in one burst, one event per slot (the receivers' mean handler time),
        # handed over in chunks (firmware_py.schedule; 0 in mappings from before chunking)
        return SenderSlot(mapping.tick_period_ps, sch["start_a_cycles"], sch["slot_a_cycles"],
                          int(sch.get("input_chunk_events", 0)))
    if s.kind != "egru" or s.send_slot is None:
        return None
    start = sch["group_start_cycles"][s.send_phase][s.send_slot]
    return SenderSlot(mapping.tick_period_ps, start, 0)


def build_programs(mapping, network, spec, n_steps: int, cores=None) -> dict[int, object]:
    """PE id -> Program, for a run of ``n_steps`` steps."""
    from firmware_py.composite import CompositeProgram
    from firmware_py.egru_slice import EGRUSliceProgram
    from firmware_py.input_source import InputSourceProgram
    from firmware_py.readout import ReadoutProgram

    cost = CostModel(spec)
    cores = build_cores(mapping, network) if cores is None else cores
    L = mapping.n_layers
    progs: dict[str, object] = {}
    for s in mapping.slices:
        last = s.first_tick + n_steps - 1
        if s.kind == "input":
            progs[s.id] = InputSourceProgram(s.n_in, cost, s.regions, s.key_base, s.first_tick,
                                             last, schedule=sender_slot(mapping, s))
        elif s.kind == "egru":
            progs[s.id] = EGRUSliceProgram(s.id, cores[s.id], cost, s.regions, s.key_base,
                                           s.first_tick, last,
                                           schedule=sender_slot(mapping, s))
        else:
            progs[s.id] = ReadoutProgram(cores[s.id], cost, s.regions, egru_src(L - 1),
                                         s.first_tick, last)
    out: dict[int, object] = {}
    for pe, sids in mapping.pe_slices().items():
        if len(sids) == 1:
            out[pe] = progs[sids[0]]
        else:
            out[pe] = CompositeProgram([(sid, progs[sid]) for sid in sids], cost)
    return out, progs
