"""``--mla auto|on|off``: the int8 first layer's dense input product on the PE's MLA.

The layer-0 input (the host's int8 embedding codes) is dense: every step brings ~``n_in``
events, and on the M4F each costs its W row's nonzeros (``slice_nnz`` each). With the MLA a
layer-0 slice stores its W slice densely (``n_in x 3u`` int8, ``mla_regions``), only buffers the
input codes as they arrive, and at the tick runs one matrix-vector product on the MLA
(``CostModel.mla_matvec_cycles``: setup + MACs at the spec's matrix-vector rate; each MAC priced
by the PL's ``mla_energy_j_per_mac``, the report's ``mla`` energy component). The integer result
is the CSR sum's, so the int8 reference stays the oracle bit for bit.

A slice can use the MLA if its dense slice fits the PE's SRAM and every column's worst case fits
the MLA's 24-bit accumulators; ``auto`` uses it where it also saves cycles (the product's cycles
below the expected row-loop cycles of the step's input events), ``on`` on every layer-0 slice
(a ``ResourceError`` for one that cannot: a longer tick would not help, its slices only grow),
``off`` nowhere. fp32 deployments never use it.
"""

from __future__ import annotations

import numpy as np

from s2sim.errors import CompileError, ResourceError

__all__ = ["apply_mla", "check_mla"]


def check_mla(mode: str, precision: str) -> None:
    from firmware_py.kinds.egru_int8 import MLA_MODES

    if mode not in MLA_MODES:
        raise CompileError(f"--mla {mode}: choose auto, on or off")
    if mode == "on" and precision != "int8":
        raise CompileError("--mla on: the MLA multiplies int8 operands; it needs --precision int8")


def apply_mla(infos: list, network, budget, cost, mode: str) -> list:
    """``infos`` with the layer-0 EGRU slices that run their input product on the MLA changed
    (regions with ``w_dense``, SRAM, cycle estimate)."""
    from firmware_py.kinds.base import aligned
    from firmware_py.kinds.egru_int8 import mla_fits_accumulators, mla_regions
    from firmware_py.kinds.egru_slice import gate_cols

    if mode == "off" or cost.precision != "int8":
        return infos
    q = network.quant.layers[0]
    H = q.hidden
    l0 = [s for s in infos if s.kind == "egru" and s.layer == 0]
    out = {}
    for s in l0:
        u = len(s.units)
        regions = aligned(mla_regions(s.n_in, H, u, s.nnz_r, 1, len(l0), cost.index_bytes),
                          budget.align)
        nbytes = sum(regions.values())
        acc_ok = mla_fits_accumulators(q.Wq[:, gate_cols(np.asarray(s.units), H)])
        row_loop = budget.input_activity * s.nnz_w * cost.c("slice_nnz")
        mla_c = cost.mla_matvec_cycles(s.n_in * 3 * u)
        if nbytes > budget.bytes_available or not acc_ok:
            if mode == "on":
                why = (f"its dense W slice needs {nbytes} bytes, a PE has "
                       f"{budget.bytes_available}" if acc_ok else
                       "a column's worst-case sum exceeds the MLA's 24-bit accumulators")
                raise ResourceError(f"--mla on: slice {s.id} ({u} units) cannot use the MLA: "
                                   f"{why} (use --mla auto)")
            continue
        if mode == "auto" and mla_c >= row_loop:
            continue
        est = max(1, int(np.ceil(s.est_cycles_per_step - row_loop + mla_c)))
        out[s.id] = s.model_copy(update={"regions": regions, "sram_bytes": nbytes,
                                         "est_cycles_per_step": est})
    return [out.get(s.id, s) for s in infos]
