"""The one cost model of the firmware: op counts -> Cortex-M4F cycles and SRAM bytes.

Every handler of every program in ``firmware_py`` charges the cycles computed here, and the
compiler's partitioner and the analytic engine use the same numbers, so the three can never
disagree. Nothing here is an ad-hoc cycle constant: each piece of handler work is written down as
the instructions it takes (an ``Ops`` count per instruction class), and the spec's Cortex-M4F
table (``spec.cpu.cycles``, source ARM TRM) and accelerator table (``spec.accelerators``) price
them. Change the instruction mix here, or the cycle table in the spec, and every user follows.

The instruction mixes are what a straightforward C implementation compiles to (no unrolling, no
SIMD): they are estimates of the code, the prices are the spec's. Interrupt entry/exit of every
handler (packets, ticks, user events) is added by the runtime (``s2sim.hw.runtime``), not here
(every handler costs irq_entry + charged + irq_exit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Ops", "Work", "CostModel", "OP_CLASSES", "SPEC_OP_NAMES"]

# Instruction classes priced by spec.cpu.cycles (the contract's names) plus accelerator calls.
SPEC_OP_NAMES = (
    "alu", "mul", "div", "load", "load_pipelined", "store", "branch_taken",
    "fp_add", "fp_mul", "fp_fma", "fp_div", "fp_sqrt", "fp_load", "fp_store",
    "irq_entry", "irq_exit",
)
OP_CLASSES = SPEC_OP_NAMES + ("exp",)  # exp: one float exp through the exp/log unit's driver
# Instruction classes that access data SRAM: each pays spec.cpu.sram_wait_cycles on top.
SRAM_ACCESS_OPS = ("load", "load_pipelined", "store", "fp_load", "fp_store")


class Ops(dict):
    """Instruction counts by class, e.g. ``Ops(load=2, fp_fma=1)``; adds and scales."""

    def __init__(self, **counts: int):
        for k in counts:
            if k not in OP_CLASSES:
                raise KeyError(f"unknown instruction class {k!r}")
        super().__init__({k: int(v) for k, v in counts.items() if v})

    def __add__(self, other: Ops) -> Ops:
        out = Ops(**self)
        for k, v in other.items():
            out[k] = out.get(k, 0) + v
        return out

    def __mul__(self, n: int) -> Ops:
        return Ops(**{k: v * int(n) for k, v in self.items()})

    __rmul__ = __mul__


@dataclass(frozen=True)
class Work:
    """Priced work of one piece of handler code: cycles and SRAM bytes touched."""

    cycles: int
    sram_read_bytes: int = 0
    sram_written_bytes: int = 0


def _value(obj, name: str) -> float:
    """Read a sourced number from a spec section (attribute or mapping access)."""
    v = obj[name] if isinstance(obj, dict) else getattr(obj, name)
    return float(getattr(v, "value", v))


# -- the instruction mixes of the firmware's handler pieces ---------------------------------------
# Each is (Ops, sram_read_bytes, sram_written_bytes). Keep comments saying what code they stand for.

def _mixes(rowptr_bytes: int, index_bytes: int) -> dict[str, tuple[Ops, int, int]]:
    return {
        # EGRU slice, per received multicast event (the runtime adds irq entry/exit):
        # read key + payload from the comms controller (2 LDR), decode source/slice/parity/unit
        # (4 shifts/masks), late-packet parity check (CMP + taken branch on the common path),
        # slice-offset table lookup (LDRH) + add, choose W or R block (CMP + branch), 2 row-pointer
        # loads (back to back), accumulator base for the parity (ADD), payload to an FP register
        # (VMOV, counted as ALU), loop set-up (ADD) and the final not-taken loop test (CMP).
        "slice_event": (
            Ops(load=3, load_pipelined=1, alu=12, branch_taken=2),
            2 + 2 * rowptr_bytes,
            0,
        ),
        # EGRU slice, per nonzero weight of the event's row: LDRH (LDR for 32-bit indices)
        # column index, VLDR weight, VLDR accumulator, VMLA (acc += x * w), VSTR accumulator,
        # pointer increment, address computation, compare, taken loop branch. Reads index + 4 + 4
        # bytes, writes 4.
        "slice_nnz": (Ops(load=1, fp_load=2, fp_fma=1, fp_store=1, alu=3, branch_taken=1),
                      index_bytes + 8, 4),
        # EGRU slice tick, fixed part: step-window check, parity select, loop set-up, end-of-step
        # bookkeeping (step counter load/increment/store).
        "slice_tick": (Ops(load=2, store=1, alu=6, branch_taken=1), 8, 4),
        # EGRU slice tick, per unit (the EvNN operation order, see models/egru/reference.py):
        # 6 accumulators + 6 biases + c + θ loaded (14 VLDR); 6 bias adds; z and r pre-activations
        # (2 VADD); 2 sigmoids as 1/(1+exp(-a)) (VNEG, exp, VADD, VDIV each); g = tanh(a) with
        # a = wx_g + r*rh_g (VMUL, VADD) as 1 - 2/(exp(2a)+1) (VMUL, exp, VADD, VDIV, VMUL, VSUB);
        # c = z*c + (1-z)*g (VSUB, VMUL, VMUL, VADD); c - θ (VSUB), VCMP + VMRS (2 ALU) and the
        # branch; store c (VSTR); zero the 6 accumulators of this parity (6 VSTR); loop (2 ALU +
        # taken branch).
        "slice_unit": (
            Ops(fp_load=14, fp_add=6 + 2 + 2 * 2 + 2 + 1 + 2 + 1, fp_mul=1 + 2 + 2,
                fp_div=3, exp=3, alu=2 + 2, branch_taken=2, fp_store=1 + 6),
            14 * 4,
            7 * 4,
        ),
        # EGRU slice, per unit that fired: c -= θ (VSUB), store the reset c (VSTR), append
        # (unit, value) to the step's send list (2 STR) and bump its count (ALU).
        "slice_fire": (Ops(fp_add=1, fp_store=1, store=2, alu=1), 0, 12),
        # EGRU slice, per event sent (a user-event handler of the send schedule, see
        # docs/compiler.md): load (unit, value) from the send list (2 LDR), build the key
        # (base | parity | unit: 2 ORR), write payload then key to the comms controller (2 STR,
        # the key write sends), advance the list pointer (ADD, STR), compute and arm the next
        # send time (4 ALU + 2 STR), loop test (CMP + taken branch).
        "slice_send": (Ops(load=2, alu=7, store=5, branch_taken=1), 8, 4),
        # input source, per packet from the host: read key (LDR), decode element + parity (3 ALU),
        # parity/bounds check (CMP + taken branch), loop set-up over the payload words (ALU).
        "input_packet": (Ops(load=1, alu=4, branch_taken=1), 0, 0),
        # input source, per payload value: read the payload word (LDR), load-add-store into the
        # frame buffer (VLDR, VADD, VSTR), loop (ALU + taken branch).
        "input_value": (Ops(load=1, fp_load=1, fp_add=1, fp_store=1, alu=1, branch_taken=1), 4, 4),
        # input source tick, fixed part: step-window check, step bookkeeping, loop set-up.
        "input_tick": (Ops(load=2, store=1, alu=6, branch_taken=1), 8, 4),
        # input source tick, per buffer element scanned: load value (VLDR), compare with zero
        # (VCMP, VMRS), branch, loop (2 ALU + taken branch).
        "input_scan": (Ops(fp_load=1, alu=4, branch_taken=2), 4, 0),
        # input source, per chunk of sends (user-event handler body): load the pending pointer
        # and count, compute the chunk end, store them back, schedule the next chunk.
        "input_chunk": (Ops(load=2, store=2, alu=6, branch_taken=1), 8, 8),
        # input source, per element sent: build key (2 ALU), payload + key to the comms controller
        # (2 STR), clear the element (VSTR).
        "input_send": (Ops(alu=2, store=2, fp_store=1), 0, 4),
        # readout, per received event: read key + payload (2 LDR), decode (4 ALU), parity check
        # (CMP + branch), append (unit, value) to the step's event list (2 STR) + count (LDR, ADD,
        # STR).
        "readout_event": (Ops(load=3, alu=6, branch_taken=1, store=3), 4, 12),
        # readout tick, fixed part: step-window check, bookkeeping, start the host transfer (a
        # few register writes).
        "readout_tick": (Ops(load=2, store=4, alu=8, branch_taken=1), 8, 4),
        # readout with on-chip weights, per (event, output) MAC: VLDR weight, VLDR acc, VMLA,
        # VSTR acc, loop (2 ALU + taken branch).
        "readout_mac": (Ops(fp_load=2, fp_fma=1, fp_store=1, alu=2, branch_taken=1), 8, 4),
        # readout with a trace, per unit and step: tr = 0.9 tr + 0.1 y (VLDR tr, VLDR y, VMUL,
        # VMUL, VADD, VSTR) + loop.
        "readout_trace_unit": (Ops(fp_load=2, fp_mul=2, fp_add=1, fp_store=1, alu=2,
                                   branch_taken=1), 8, 4),
        # decoder block (--decoder chip), per token packet from the host: read key + payload
        # (2 LDR), decode row + parity (3 ALU), parity/bounds check (CMP + taken branch), set up
        # the loop over the table's columns (ALU).
        "decoder_token": (Ops(load=2, alu=5, branch_taken=1), 0, 0),
        # decoder block, per column of the token's lookup: the column's two pointers (back to
        # back), bisection bounds (2 ALU), loop (ALU + taken branch).
        "decoder_column": (Ops(load=1, load_pipelined=1, alu=3, branch_taken=1), 2 * rowptr_bytes,
                           0),
        # decoder block, per bisection probe: midpoint (2 ALU), LDRH the row index, CMP +
        # conditional branch.
        "decoder_probe": (Ops(load=1, alu=3, branch_taken=1), 2, 0),
        # decoder block, per embedding value found: load it (LDRH + VCVTB.F32.F16, the
        # conversion priced as fp_add: 1 cycle in the TRM, as a VADD), build the key (2 ALU),
        # payload + key to the comms controller (2 STR).
        "decoder_embed_send": (Ops(load=1, fp_add=1, alu=2, store=2), 2, 0),
        # decoder block, per received last-layer event: read key + payload (2 LDR), decode
        # source/slice/parity/unit (4 ALU), parity check (CMP + branch), slice-offset lookup
        # (LDRH + ADD), the column's two pointers, accumulator base for the parity (ADD), payload
        # to an FP register (VMOV), loop set-up and final test (2 ALU).
        "decoder_event": (Ops(load=3, load_pipelined=1, alu=10, branch_taken=2),
                          2 + 2 * rowptr_bytes, 0),
        # decoder block, per nonzero of the event's column (float16 values): LDRH row index,
        # LDRH value + VCVTB (as fp_add), VLDR logit, VMLA, VSTR logit, pointer increments,
        # address computation, compare, taken loop branch.
        "decoder_nnz": (Ops(load=2, fp_add=1, fp_load=1, fp_fma=1, fp_store=1, alu=3,
                            branch_taken=1), 2 + 2 + 4, 4),
        # ... with float32 values: VLDR value instead of LDRH + VCVTB.
        "decoder_nnz_f32": (Ops(load=1, fp_load=2, fp_fma=1, fp_store=1, alu=3, branch_taken=1),
                            2 + 4 + 4, 4),
        # decoder block tick, per row: VLDR logit, VLDR bias, VADD, VCMP + VMRS (2 ALU) with the
        # best so far, conditional branch, zero the logit (VSTR), loop (2 ALU + taken branch).
        "decoder_row": (Ops(fp_load=2, fp_add=1, alu=4, branch_taken=2, fp_store=1), 8, 4),
        # decoder block tick, fixed part: step-window check, parity select, step bookkeeping,
        # arm the user event that sends the block's best row.
        "decoder_tick": (Ops(load=2, store=3, alu=8, branch_taken=1), 8, 8),
        # decoder block, the send of its best row (user event): build the key (2 ALU), payload +
        # key to the comms controller (2 STR).
        "decoder_send": (Ops(alu=2, store=2), 0, 0),
        # readout with the decoder on chip, per block's best row received: read key + payload
        # (2 LDR), decode block/parity/row (4 ALU), parity check (CMP + branch), compare with the
        # step's best (VCMP + VMRS: 2 ALU) + conditional branch, keep it (2 STR).
        "readout_best": (Ops(load=2, alu=7, branch_taken=2, store=2), 0, 8),
        # readout, per output value computed on chip: bias load + add (VLDR, VADD), store to the
        # host buffer (VSTR), zero the accumulator (VSTR), loop.
        "readout_out": (Ops(fp_load=2, fp_add=1, fp_store=2, alu=2, branch_taken=1), 8, 8),
    }


class CostModel:
    """Prices the firmware's handler pieces with a chip spec's cycle table.

    ``cm = CostModel(spec)``; then ``cm.work("slice_nnz")`` -> Work(cycles, read, written), or the
    vectorised helpers the handlers use (``slice_event_cycles(nnz)``...).
    """

    def __init__(self, spec, rowptr_bytes: int = 2, index_bytes: int = 2):
        cyc = spec.cpu.cycles
        self.table: dict[str, int] = {name: int(round(_value(cyc, name))) for name in SPEC_OP_NAMES}
        wait = getattr(spec.cpu, "sram_wait_cycles", None)
        self.sram_wait_cycles = 0 if wait is None else int(round(_value({"w": wait}, "w")))
        for name in SRAM_ACCESS_OPS:
            self.table[name] += self.sram_wait_cycles
        self.table["exp"] = int(round(_value(spec.accelerators, "exp_driver_cycles")))
        self.irq_cycles = self.table["irq_entry"] + self.table["irq_exit"]
        self.rowptr_bytes = rowptr_bytes
        self.index_bytes = index_bytes  # column index of a stored weight (uint16 or uint32)
        self.mixes = _mixes(rowptr_bytes, index_bytes)
        self._work = {name: self._price(*mix) for name, mix in self.mixes.items()}

    def _price(self, ops: Ops, rd: int, wr: int) -> Work:
        return Work(cycles=self.cycles(ops), sram_read_bytes=rd, sram_written_bytes=wr)

    def cycles(self, ops: Ops) -> int:
        return int(sum(self.table[k] * v for k, v in ops.items()))

    def work(self, piece: str) -> Work:
        return self._work[piece]

    def c(self, piece: str) -> int:
        """Cycles of one piece of handler work."""
        return self._work[piece].cycles

    # -- vectorised helpers used by the handlers and by the analytic engine -------------------
    def slice_event_cycles(self, nnz: np.ndarray) -> np.ndarray:
        """Handler cycles of EGRU-slice events whose rows hold ``nnz`` weights (no irq)."""
        return self.c("slice_event") + self.c("slice_nnz") * np.asarray(nnz, np.int64)

    def slice_tick_cycles(self, n_units: int, n_fired: int) -> int:
        return (self.c("slice_tick") + self.c("slice_unit") * n_units
                + self.c("slice_fire") * n_fired)

    def event_sram(self, nnz) -> tuple[np.ndarray, np.ndarray]:
        ev, nz = self.work("slice_event"), self.work("slice_nnz")
        nnz = np.asarray(nnz, np.int64)
        return (ev.sram_read_bytes + nz.sram_read_bytes * nnz,
                ev.sram_written_bytes + nz.sram_written_bytes * nnz)
