"""`s2sim validate`: the published SpiNNaker2 measurements, simulated, side by side.

Each row builds a :class:`s2sim.hw.chip.Chip` from the spec, loads a small workload program on
every PE, runs it through the discrete-event simulator, prices the counts with
:func:`s2sim.hw.energy.price` and compares the result with the number in ``spec.calibration``.

Rows and what they test (bounds are the ones the test suite asserts, see docs/spec.md):

* ``chip power, all PEs off``: nothing loaded. Calibrated (the chip floor *is* the published
  number), bound 1 %.
* ``chip power, all PEs asleep`` per PL: a program with no handlers on every PE (powered, timer
  off), so every PE sleeps (WFI) for the whole run. Calibrated (the per-PE sleep power was
  derived from this row), bound 1 %.
* ``chip power, all PEs busy`` per PL: a tick handler that charges every cycle of the tick period
  (CoreMark stands in as "busy every cycle"). Calibrated (active energy per cycle was derived
  from this row), bound 1 %.
* ``MLA int8 matmul throughput`` / ``power`` per PL: every PE runs one int8 matmul per tick on
  its MLA, sized to fill the tick, while the CPU sleeps until the job's completion event. The job
  time is ``macs / (mla_macs_per_cycle x calibration.mla_utilisation)`` cycles, i.e. it uses the
  published 78 % utilisation (rounded: the TOPS rows imply 78.16 %), and the MAC energy was derived
  from the power row: both rows are calibrated, bound 1 %.
* ``synaptic events/s per PE``: *calibrated*. ``spec.cpu.sram_wait_cycles`` (wait cycles per data
  SRAM access) is the smallest whole number at which this row stays at or below the published
  "up to 12 M/s per PE" (with zero-wait-state SRAM it ran at 15.5 M/s, +29 %); bound 5 %.
* ``synaptic events/s per chip``: a *prediction*. PEs receive
  multicast spikes over the NoC faster than they can process them; every packet is one synaptic
  row of ``SYNAPSES_PER_ROW`` synapses processed by an sPyNNaker-style inner loop written down
  as Cortex-M4F instructions (priced by ``spec.cpu.cycles``); in the chip row each PE also
  updates ceil(150,000 / 152) LIF neurons per 1 ms tick. The published figures are an upper bound
  ("up to 12 M/s per PE") and a lower bound ("> 1.8 G/s per chip"), with the row length and the
  kernel unpublished, so the bound is 50 %. The two published figures are only consistent if
  the neuron updates take almost no time (152 x 12 M = 1.82 G): with the per-PE row calibrated
  to <= 12 M and 987 LIF neurons per PE, the chip row comes out below 1.8 G.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from s2sim.errors import S2SimError
from s2sim.spec import ChipSpec, PerformanceLevel, encode_pe_id

# -- workload parameters (documented in docs/spec.md, "s2sim validate") --------------------------

SYNAPSES_PER_ROW = 100  # synapses per multicast spike on the receiving PE (not published)
SPIKES_PER_TICK = 64  # spikes each PE sends per tick: > what the receivers can process
MASTER_POP_ENTRIES = 64  # master population table size searched per spike (binary search)

BOUND_CALIBRATED_PCT = 1.0
BOUND_SYNAPTIC_PE_PCT = 5.0  # calibrated (to at or below the published maximum), whole wait cycles
BOUND_SYNAPTIC_PCT = 50.0


# -- instruction mixes of the synaptic workload (priced by spec.cpu.cycles) ---------------------


def _ops_cycles(spec: ChipSpec, **ops: int) -> int:
    """Cycles of an instruction mix, priced like the firmware's (``firmware_py.cost``: the
    spec's Cortex-M4F table plus its SRAM wait cycles)."""
    from firmware_py.cost import CostModel, Ops

    return CostModel(spec).cycles(Ops(**ops))


def synapse_cycles(spec: ChipSpec) -> int:
    """Cycles per synapse of the sPyNNaker-style fixed-synapse loop on a Cortex-M4F.

    LDR synaptic word (post-increment); UBFX delay, UBFX type|index, LSR weight (3 ALU);
    ring-buffer index ((time + delay) & mask) << shift | index (ADD, AND, ORR: 3 ALU); LDRH
    ring-buffer entry; ADD weight; saturation test and clamp (AND + conditional: 2 ALU); STRH;
    loop (SUBS + taken BNE).
    """
    return _ops_cycles(spec, load=2, alu=3 + 3 + 1 + 2 + 1, store=1, branch_taken=1)


def row_cycles(spec: ChipSpec, n_synapses: int) -> int:
    """Cycles of one spike (one synaptic row), without the runtime's packet interrupt.

    Read the key from the comms controller (LDR); binary search of the master population table
    (log2 entries iterations of LDR + CMP + MOV + taken branch); row address (3 ALU); start the DMA
    of the row (spec.accelerators.dma_setup_cycles); the DMA-done interrupt (entry + exit + 2 LDR
    + 4 ALU of bookkeeping); row header (2 LDR, 4 ALU); loop set-up (2 ALU); then the synapses.
    """
    steps = max(1, math.ceil(math.log2(MASTER_POP_ENTRIES)))
    fixed = (_ops_cycles(spec, load=1)
             + steps * _ops_cycles(spec, load=1, alu=2, branch_taken=1)
             + _ops_cycles(spec, alu=3)
             + int(spec.accelerators.dma_setup_cycles.value)
             + _ops_cycles(spec, irq_entry=1, irq_exit=1, load=2, alu=4)
             + _ops_cycles(spec, load=2, alu=4)
             + _ops_cycles(spec, alu=2))
    return fixed + n_synapses * synapse_cycles(spec)


def neuron_cycles(spec: ChipSpec) -> int:
    """Cycles of one LIF neuron update per tick (float, sPyNNaker-style).

    LDRH ring-buffer input, VCVT (1 FP), STRH to clear the slot, VLDR V, V = V*decay + I*R
    (VMUL + VFMA), VLDR threshold, VCMP (1 FP) + VMRS (ALU) + branch, VSTR V, loop (ALU + taken
    branch).
    """
    return _ops_cycles(spec, load=1, fp_add=2, store=1, fp_load=2, fp_mul=1, fp_fma=1,
                       alu=2, branch_taken=2, fp_store=1)


def send_cycles(spec: ChipSpec) -> int:
    """Cycles to send one multicast spike: build the key (2 ALU), write it (STR)."""
    return _ops_cycles(spec, alu=2, store=1)


# -- result rows ---------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    unit: str
    published: float
    simulated: float | None
    bound_pct: float
    basis: str  # "calibrated" (the model was derived from this row) or "predicted"
    note: str = ""

    @property
    def error_pct(self) -> float | None:
        if self.simulated is None:
            return None
        return 100.0 * (self.simulated - self.published) / self.published

    @property
    def within_bound(self) -> bool | None:
        e = self.error_pct
        return None if e is None else abs(e) <= self.bound_pct

    def to_json(self) -> dict:
        d = asdict(self)
        d["error_pct"] = self.error_pct
        d["within_bound"] = self.within_bound
        return d


# -- the simulator side --------------------------------------------------------------------------


def _hw():
    """Import the simulator lazily: a clear error if this build has no s2sim.hw chip yet."""
    try:
        from s2sim.hw.chip import Chip
        from s2sim.hw.energy import price
        from s2sim.hw.runtime import Program
    except ImportError as exc:  # pragma: no cover - only while hw is being built
        raise S2SimError(f"s2sim validate needs the simulated chip (s2sim.hw): {exc}") from None
    return Chip, price, Program


def _total_j(report) -> float:
    for name in ("total_j", "energy_j"):
        v = getattr(report, name, None)
        if v is not None:
            return float(v() if callable(v) else v)
    raise S2SimError("energy report has no total_j")


def _match_pl(spec: ChipSpec, voltage_v: float, frequency_hz: float) -> int | None:
    for i, pl in enumerate(spec.performance_levels):
        if (math.isclose(pl.voltage_v.value, voltage_v, rel_tol=1e-9)
                and math.isclose(pl.frequency_hz.value, frequency_hz, rel_tol=1e-9)):
            return i
    return None


def _cycles_per_tick(spec: ChipSpec, pl: PerformanceLevel) -> int:
    return int(spec.timing.tick_period_s.value * pl.frequency_hz.value)


def _programs(Program):
    """The workload programs, as subclasses of the runtime's Program (defined lazily)."""

    class Idle(Program):
        """No handlers: the timer is not enabled and the PE sleeps (WFI) for the whole run."""

        name = "validate-idle"

        def sram_regions(self):
            return {}

    class Busy(Program):
        name = "validate-busy"

        def __init__(self, cycles_per_tick: int, irq_cycles: int):
            # The runtime adds interrupt entry + exit to the tick handler; one cycle short of
            # the tick period so the handler ends before the next tick fires (a handler ending
            # exactly on the tick would count as an overrun).
            self.cycles = max(cycles_per_tick - irq_cycles - 1, 0)

        def sram_regions(self):
            return {}

        def on_tick(self, pe, tick):
            pe.charge(self.cycles)

    class Mla(Program):
        """One int8 matmul per tick on the MLA, sized to fill the tick; the CPU sleeps until
        the MLA's completion event."""

        name = "validate-mla"

        def __init__(self, job_macs: int, job_cycles: int):
            self.job_macs, self.job_cycles = job_macs, job_cycles
            self.jobs_done = 0

        def sram_regions(self):
            return {}

        def on_tick(self, pe, tick):
            pe.user_event("mla_done", delay_cycles=self.job_cycles)

        def on_user_event(self, pe, arg):
            # MACs are booked when the job completes, so energy and throughput count the same
            # jobs; every job completes before the next tick, so none is cut off by the run end.
            pe.count(macs=self.job_macs)
            self.jobs_done += 1

    class Synaptic(Program):
        """Spiking workload: LIF neurons per tick, one synaptic row per received spike."""

        name = "validate-synaptic"

        def __init__(self, key: int, n_neurons: int, neuron_c: int, row_c: int, send_c: int,
                     synapses: int, spikes_per_tick: int):
            self.key = key
            self.n_neurons, self.neuron_c, self.row_c = n_neurons, neuron_c, row_c
            self.send_c, self.synapses, self.spikes = send_c, synapses, spikes_per_tick

        def sram_regions(self):
            return {}

        def on_tick(self, pe, tick):
            update = self.n_neurons * self.neuron_c
            pe.charge(update + self.spikes * self.send_c)
            keys = np.full(self.spikes, self.key, dtype=np.uint32)
            # Spikes leave as the neuron loop finds them: spread over the update.
            at = update * np.arange(1, self.spikes + 1, dtype=np.int64) // self.spikes
            at += self.send_c * np.arange(1, self.spikes + 1, dtype=np.int64)
            pe.send(keys, None, at_cycles=at)

        def on_packets(self, pe, keys, payloads):
            n = len(keys)
            pe.count(synaptic_events=n * self.synapses)
            return np.full(n, self.row_c, dtype=np.int64)

    return Idle, Busy, Mla, Synaptic


def _run(spec: ChipSpec, load, ticks: int):
    Chip, price, Program = _hw()
    chip = Chip(spec)
    progs = load(chip, Program)
    result = chip.run(ticks=ticks)
    report = price(result.counts, spec)
    duration_s = result.counts.duration_s
    return result, report, duration_s, progs


def simulate_power(spec: ChipSpec, state: str, pl: int | None, ticks: int) -> float:
    """Average chip power (W) with every PE off, asleep or busy at PL ``pl``."""

    cyc = spec.cpu.cycles
    irq = int(cyc.irq_entry.value) + int(cyc.irq_exit.value)

    def load(chip, Program):
        Idle, Busy, _, _ = _programs(Program)
        if state == "off":
            return []
        progs = []
        for pe in chip.pes:
            p = Idle() if state == "asleep" else Busy(_cycles_per_tick(spec, spec.pl(pl)), irq)
            chip.load(pe, p, pl=pl)
            progs.append(p)
        return progs

    result, report, duration_s, _ = _run(spec, load, ticks)
    if state == "busy":
        overruns = result.counts.total("tick_overruns")
        if overruns:
            raise S2SimError(f"validate: busy workload overran {overruns} ticks")
    return _total_j(report) / duration_s


def mla_job(spec: ChipSpec, pl: int) -> tuple[int, int]:
    """(MACs, cycles) of the per-tick MLA job at PL ``pl``.

    The job starts at the tick handler's interrupt entry and its completion handler (interrupt
    entry + exit) must end before the next tick: that leaves ``cycles_per_tick - 2 x irq_entry
    - irq_exit - 1`` cycles. The MLA does ``mla_macs_per_cycle x calibration.mla_utilisation``
    MACs per cycle (the published 78 % utilisation of an int8 matmul).
    """
    cyc = spec.cpu.cycles
    budget = (_cycles_per_tick(spec, spec.pl(pl)) - 2 * int(cyc.irq_entry.value)
              - int(cyc.irq_exit.value) - 1)
    rate = spec.accelerators.mla_macs_per_cycle.value * spec.calibration.mla_utilisation.value
    macs = int(budget * rate)
    return macs, math.ceil(macs / rate)


def simulate_mla(spec: ChipSpec, pl: int, ticks: int) -> tuple[float, float]:
    """(TOPS, W) of every PE running one tick-filling int8 matmul per tick on its MLA."""
    job_macs, job_cycles = mla_job(spec, pl)

    def load(chip, Program):
        _, _, Mla, _ = _programs(Program)
        progs = []
        for pe in chip.pes:
            p = Mla(job_macs, job_cycles)
            chip.load(pe, p, pl=pl)
            progs.append(p)
        return progs

    result, report, duration_s, progs = _run(spec, load, ticks)
    macs = result.counts.total("macs")
    if macs != len(progs) * ticks * job_macs:
        raise S2SimError(f"validate: MLA workload completed {macs} MACs, expected "
                         f"{len(progs) * ticks * job_macs} (jobs cut off or overran)")
    tops = 2 * macs / duration_s / 1e12
    return tops, _total_j(report) / duration_s


def simulate_synaptic(spec: ChipSpec, pl: int, ticks: int, neurons_per_pe: int) -> float:
    """Synaptic events per second processed by the whole chip (saturated by spikes)."""
    qpes = spec.qpes()
    n_per_qpe = spec.organisation.pes_per_qpe.value

    def load(chip, Program):
        _, _, _, Synaptic = _programs(Program)
        progs = []
        for pe in chip.pes:
            qx, qy = spec.qpe_of(pe)
            p = Synaptic(key=pe << 8, n_neurons=neurons_per_pe, neuron_c=neuron_cycles(spec),
                         row_c=row_cycles(spec, SYNAPSES_PER_ROW), send_c=send_cycles(spec),
                         synapses=SYNAPSES_PER_ROW, spikes_per_tick=SPIKES_PER_TICK)
            chip.load(pe, p, pl=pl)
            progs.append(p)
            # Every PE's spikes go to all PEs of the next QPE in the list (one flit per QPE):
            # each PE receives the spikes of the 4 PEs of its predecessor QPE.
            nxt = qpes[(qpes.index((qx, qy)) + 1) % len(qpes)]
            dests = {encode_pe_id(nxt[0], nxt[1], i) for i in range(n_per_qpe)}
            chip.router.add(pe << 8, 0xFFFFFF00, pes=dests)
        return progs

    result, _, _, _ = _run(spec, load, ticks)
    # The ledger books each packet in the tick in which its handler *started*. Under overload a
    # batch of queued packets runs past the run's end (and is booked into the last tick), and
    # the first tick is a ramp-up, so the rate is measured over ticks 1 .. ticks-2: steady state,
    # with at most one packet per PE straddling each window edge.
    received = result.counts.pe["packets_received"][:, 1:ticks - 1].sum()
    window_s = (ticks - 2) * spec.timing.tick_period_s.value
    return int(received) * SYNAPSES_PER_ROW / window_s


# -- the table -----------------------------------------------------------------------------------


def validate(spec: ChipSpec, ticks: int = 10) -> list[Row]:
    """Simulate every calibration row that the spec's performance levels can reproduce."""
    if ticks < 3:
        raise S2SimError(f"validate: --ticks must be >= 3, got {ticks}")
    cal = spec.calibration
    rows: list[Row] = []
    rows.append(Row("chip power, all PEs off", "W", cal.chip_off_power_w.value,
                    simulate_power(spec, "off", None, ticks), BOUND_CALIBRATED_PCT,
                    "calibrated"))
    for lvl in cal.levels:
        v, f = lvl.voltage_v.value, lvl.frequency_hz.value
        where = f"{v:.2f} V / {f / 1e6:g} MHz"
        i = _match_pl(spec, v, f)
        if i is None:
            note = f"no performance level at {where} in this spec"
            for name, unit, pub in (("all PEs asleep", "W", lvl.chip_asleep_power_w),
                                    ("all PEs busy", "W", lvl.chip_busy_power_w),
                                    ("MLA int8 matmul throughput", "TOPS", lvl.mla_tops),
                                    ("MLA int8 matmul power", "W", lvl.mla_power_w)):
                rows.append(Row(f"{name}, {where}", unit, pub.value, None,
                                BOUND_CALIBRATED_PCT, "calibrated", note))
            continue
        pl_name = spec.pl(i).name
        rows.append(Row(f"chip power, all PEs asleep, {where} ({pl_name})", "W",
                        lvl.chip_asleep_power_w.value,
                        simulate_power(spec, "asleep", i, ticks), BOUND_CALIBRATED_PCT,
                        "calibrated"))
        rows.append(Row(f"chip power, all PEs busy, {where} ({pl_name})", "W",
                        lvl.chip_busy_power_w.value,
                        simulate_power(spec, "busy", i, ticks), BOUND_CALIBRATED_PCT,
                        "calibrated", "busy every cycle stands in for CoreMark"))
        tops, watts = simulate_mla(spec, i, ticks)
        rows.append(Row(f"MLA int8 matmul throughput, {where} ({pl_name})", "TOPS",
                        lvl.mla_tops.value, tops, BOUND_CALIBRATED_PCT, "calibrated",
                        "uses the published MLA utilisation"))
        rows.append(Row(f"MLA int8 matmul power, {where} ({pl_name})", "W",
                        lvl.mla_power_w.value, watts, BOUND_CALIBRATED_PCT, "calibrated"))
    # Synaptic throughput: at the fastest performance level (the published figures don't say).
    fastest = max(range(len(spec.performance_levels)),
                  key=lambda k: spec.performance_levels[k].frequency_hz.value)
    pl = spec.pl(fastest)
    where = f"{pl.voltage_v.value:.2f} V / {pl.frequency_hz.value / 1e6:g} MHz ({pl.name})"
    n_pes = len(spec.pe_ids())
    per_pe = simulate_synaptic(spec, fastest, ticks, neurons_per_pe=0) / n_pes
    rows.append(Row(f"synaptic events/s per PE, no neurons, {where}", "events/s",
                    cal.synaptic_events_per_s_per_pe.value, per_pe, BOUND_SYNAPTIC_PE_PCT,
                    "calibrated",
                    f"published 'up to': cpu.sram_wait_cycles calibrated to stay at or below "
                    f"it; {SYNAPSES_PER_ROW}-synapse rows, {synapse_cycles(spec)} "
                    f"cycles/synapse + {row_cycles(spec, 0)} cycles/row"))
    neurons = math.ceil(cal.neurons_per_chip.value / n_pes)
    chip = simulate_synaptic(spec, fastest, ticks, neurons_per_pe=neurons)
    rows.append(Row(f"synaptic events/s per chip, {neurons} LIF neurons/PE, {where}",
                    "events/s", cal.synaptic_events_per_s_per_chip.value, chip,
                    BOUND_SYNAPTIC_PCT, "predicted",
                    f"published '> 1.8 G'; {neuron_cycles(spec)} cycles/neuron/tick"))
    return rows


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m")):
        if abs(v) >= factor:
            return f"{v / factor:.4g} {prefix}{unit}"
    return f"{v:.4g} {unit}"


def table_text(rows: list[Row], label: str) -> str:
    out = [f"s2sim validate: published SpiNNaker2 measurements vs simulated (spec: {label})", ""]
    w = max(len(r.name) for r in rows)
    out.append(f"{'measurement':<{w}}  {'published':>15}  {'simulated':>15}  {'error':>8}  "
               f"{'bound':>6}  basis")
    for r in rows:
        err = "-" if r.error_pct is None else f"{r.error_pct:+.2f}%"
        mark = "" if r.within_bound in (None, True) else "  OUT OF BOUND"
        out.append(f"{r.name:<{w}}  {_fmt(r.published, r.unit):>15}  "
                   f"{_fmt(r.simulated, r.unit):>15}  {err:>8}  {r.bound_pct:>5g}%  "
                   f"{r.basis}{mark}")
        if r.note:
            out.append(f"{'':<{w}}    {r.note}")
    out.append("")
    out.append("calibrated: the spec's per-PE model was derived from this row, so the error "
               "checks the simulator's accounting; predicted: an independent estimate.")
    return "\n".join(out) + "\n"
