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

__all__ = ["Ops", "Work", "CostModel", "OP_CLASSES", "SPEC_OP_NAMES", "PRECISIONS"]

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


def _int8_mixes(index_bytes: int) -> dict[str, tuple[Ops, int, int]]:
    """The int8 EGRU slice's handler pieces (``--precision int8``, ``models.egru.quant``): they
    replace the float32 slice pieces of the same names, so every user of the cost model (the
    partitioner, the send schedule, the analytic engine, the DES programs) prices int8 slices
    with them. Integer instructions are priced by the spec's ``alu``/``mul``/``load``/``store``
    (ARM TRM: MUL, MLA, SMULL 1 cycle on the M4)."""
    return {
        # per received event: as "slice_event", plus the payload's conversion to Q14
        # (VCVT.S32.F32 #14, counted as one ALU op: the wire word stays float32, exact).
        "slice_event": (Ops(load=3, load_pipelined=1, alu=13, branch_taken=2), 2 + 2 * 2, 0),
        # per nonzero weight: LDRH column, LDRSB int8 weight, LDR accumulator, MLA (acc += x*w,
        # 32-bit), STR accumulator, pointer increment, address, compare, taken loop branch.
        "slice_nnz": (Ops(load=3, mul=1, store=1, alu=3, branch_taken=1), index_bytes + 1 + 4, 4),
        # per unit at the tick: 6 accumulators, 6 requantising multipliers, 6 Q12 biases, c, θ
        # (20 loads) + 3 sigmoid-table loads (LDRSH); 6 requantisations (SMULL + 64-bit round and
        # shift: 5 ALU, + bias add); z, r: add, table index (add, shift, SSAT clamp: 3 ALU);
        # g: MUL r*rh_g, round + shift (2), add, 2a (1), index (3), 2σ - 1 (2); c: MUL, MLA,
        # (1 - z) (1), round + shift (2); compare with θ (1) + branch; STRH c; zero the 6
        # accumulators (6 STR); loop (2 ALU + taken branch).
        "slice_unit": (Ops(load=23, mul=6 + 1 + 2,
                           alu=6 * 6 + 2 * (1 + 3) + (2 + 1 + 1 + 3 + 2) + (1 + 2) + 1 + 2,
                           store=1 + 6, branch_taken=2), 6 * 4 * 3 + 2 + 2 + 3 * 2, 2 + 6 * 4),
        # per unit that fired: c -= θ (SUB), STRH c, append (unit, value) to the send list
        # (2 STR) and count (ALU).
        "slice_fire": (Ops(alu=2, store=3), 0, 10),
        # per event sent: as "slice_send", plus the Q14 value's conversion to the wire's float32
        # word (VCVT.F32.S32 #14, one ALU op).
        "slice_send": (Ops(load=2, alu=8, store=5, branch_taken=1), 8, 4),
    }


PRECISIONS = ("fp32", "int8")
# One MLA matrix-vector product (``--mla``, the int8 first layer's dense input product): the M4F
# writes the MLA's operand addresses, shapes, strides and the start bit (EST: ~8 peripheral
# register stores at ~2 cycles each on the PE's bus, not published) and then waits for the
# completion flag (EST: ~10 cycles to poll it and return); the product itself runs at the spec's
# accelerators.mla_matvec_macs_per_cycle (CP: 16 MAC/cycle on matrix-vector). The CPU is counted
# active while it waits (EST: the conservative reading; it could sleep until the MLA's event).
MLA_SETUP_CYCLES = 30


class CostModel:
    """Prices the firmware's handler pieces with a chip spec's cycle table.

    ``cm = CostModel(spec)``; then ``cm.work("slice_nnz")`` -> Work(cycles, read, written), or the
    vectorised helpers the handlers use (``slice_event_cycles(nnz)``...).
    """

    def __init__(self, spec, rowptr_bytes: int = 2, index_bytes: int = 2,
                 precision: str = "fp32"):
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
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        self.precision = precision
        if precision == "int8":
            self.mixes.update(_int8_mixes(index_bytes))
        self._work = {name: self._price(*mix) for name, mix in self.mixes.items()}
        self.mla_matvec_rate = int(_value(spec.accelerators, "mla_matvec_macs_per_cycle"))

    def mla_matvec_cycles(self, macs: int) -> int:
        """Cycles of one MLA matrix-vector product of ``macs`` int8 MACs, setup included."""
        return MLA_SETUP_CYCLES + -(-int(macs) // self.mla_matvec_rate)

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
