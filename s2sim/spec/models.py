"""Pydantic models of the chip spec.

Every number in the spec is a :class:`Sourced` value: the number plus the tag of where it comes
from (``DS``, ``MC``, ``CP``, ``H21``, ``DPM``, ``ARM``, ``EST`` or ``USER``) and a note. An
``EST`` (estimate) must carry a note saying how it was derived, so a reader can always tell a
measured number from a guess. Section and field names are the contract in ``docs/design.md``.

Field constraints (positive, integer, fraction ...) are attached with ``Annotated`` so a bad
value is reported against its own field path, e.g. ``performance_levels.1.frequency_hz``.
Cross-field checks (PE count vs QPE list, code+data vs SRAM, ...) live in model validators whose
messages name every field involved.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from s2sim.errors import SpecError

SOURCES = ("DS", "MC", "CP", "H21", "DPM", "ARM", "EST", "USER")
SourceTag = Literal["DS", "MC", "CP", "H21", "DPM", "ARM", "EST", "USER"]

# PE id encoding (MC): 2 bits PE-in-QPE, 3 bits qy, 3 bits qx.
PE_BITS = 2
QY_BITS = 3
QX_BITS = 3
MAX_PES_PER_QPE = 1 << PE_BITS
MAX_QY = (1 << QY_BITS) - 1
MAX_QX = (1 << QX_BITS) - 1
MAX_PERFORMANCE_LEVELS = 4


def encode_pe_id(qx: int, qy: int, pe_in_qpe: int) -> int:
    """SpiNNaker2 PE id: ``(qx << 5) | (qy << 2) | pe_in_qpe``."""
    return (qx << (QY_BITS + PE_BITS)) | (qy << PE_BITS) | pe_in_qpe


def decode_pe_id(pe_id: int) -> tuple[int, int, int]:
    """Inverse of :func:`encode_pe_id`: ``(qx, qy, pe_in_qpe)``."""
    return (
        (pe_id >> (QY_BITS + PE_BITS)) & MAX_QX,
        (pe_id >> PE_BITS) & MAX_QY,
        pe_id & (MAX_PES_PER_QPE - 1),
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


# ---------------------------------------------------------------------------------------------
# Sourced values
# ---------------------------------------------------------------------------------------------


def _check_number(v: Any) -> Any:
    # Reject bools and strings explicitly: pydantic's lax mode would turn "5" or True into 5,
    # which hides typos in a hand-written YAML.
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"expected a number, got {v!r}")
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"expected a finite number, got {v!r}")
    return v


Number = Annotated[int | float, BeforeValidator(_check_number)]


class _SourcedBase(_Strict):
    # Subclasses declare ``value``, ``source``, ``note`` in that order (so dumps read
    # value-first); this base only holds the shared check.

    @model_validator(mode="after")
    def _estimate_needs_note(self):
        if self.source == "EST" and not (self.note and self.note.strip()):
            raise ValueError("an EST (estimate) value needs a note saying how it was derived")
        return self


class Sourced(_SourcedBase):
    """A number with its source tag: ``{value, source, note}``."""

    value: Number
    source: SourceTag
    note: str | None = None

    def __float__(self) -> float:
        return float(self.value)

    def __int__(self) -> int:
        return int(self.value)


Coord = tuple[int, int]


class SourcedCoords(_SourcedBase):
    """A sourced list of ``[qx, qy]`` mesh coordinates (iterable like the plain list)."""

    value: list[Coord]
    source: SourceTag
    note: str | None = None

    # Iterating, indexing and len() go to the list so callers may treat it as the plain list.
    def __iter__(self) -> Iterator[Coord]:  # type: ignore[override]
        return iter(self.value)

    def __len__(self) -> int:
        return len(self.value)

    def __getitem__(self, i: int) -> Coord:
        return self.value[i]


class SourcedXY(_SourcedBase):
    """A sourced ``[x, y]`` mesh position (unpacks like the plain pair)."""

    value: Coord
    source: SourceTag
    note: str | None = None

    def __iter__(self) -> Iterator[int]:  # type: ignore[override]
        return iter(self.value)

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> int:
        return self.value[i]


def _positive(s: Sourced) -> Sourced:
    if not math.isfinite(s.value):
        raise ValueError(f"must be a finite number, got {s.value!r}")
    if not s.value > 0:
        raise ValueError(f"must be > 0, got {s.value!r}")
    return s


def _non_negative(s: Sourced) -> Sourced:
    if not math.isfinite(s.value):
        raise ValueError(f"must be a finite number, got {s.value!r}")
    if s.value < 0:
        raise ValueError(f"must be >= 0, got {s.value!r}")
    return s


# The longest tick a spec may have: time is int64 picoseconds (9.2e6 s), so a 10 s tick still
# leaves ~900 000 ticks per run; no SpiNNaker2 application ticks slower than ~1 s.
MAX_TICK_PERIOD_S = 10.0


def _tick_period(s: Sourced) -> Sourced:
    if s.value > MAX_TICK_PERIOD_S:
        raise ValueError(f"must be <= {MAX_TICK_PERIOD_S:g} s (time is int64 picoseconds), "
                         f"got {s.value!r}")
    return s


def _integer(s: Sourced) -> Sourced:
    v = s.value
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError(f"must be an integer, got {v!r}")
        s.value = int(v)
    return s


def _fraction(s: Sourced) -> Sourced:
    if not 0 < s.value <= 1:
        raise ValueError(f"must be in (0, 1], got {s.value!r}")
    return s


Pos = Annotated[Sourced, AfterValidator(_positive)]
NonNeg = Annotated[Sourced, AfterValidator(_non_negative)]
PosInt = Annotated[Sourced, AfterValidator(_integer), AfterValidator(_positive)]
NonNegInt = Annotated[Sourced, AfterValidator(_integer), AfterValidator(_non_negative)]
Fraction = Annotated[Sourced, AfterValidator(_fraction)]


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


class Organisation(_Strict):
    qpe_coords: SourcedCoords
    pes_per_qpe: PosInt
    application_pes: PosInt
    usable_pes: PosInt
    management_pes: NonNegInt
    router_position: SourcedXY

    @model_validator(mode="after")
    def _check(self):
        coords = self.qpe_coords.value
        if not coords:
            raise ValueError("organisation.qpe_coords: needs at least one QPE")
        seen: set[Coord] = set()
        for qx, qy in coords:
            if not (0 <= qx <= MAX_QX and 0 <= qy <= MAX_QY):
                raise ValueError(
                    f"organisation.qpe_coords: QPE ({qx}, {qy}) is outside the 3-bit id "
                    f"encoding (qx 0..{MAX_QX}, qy 0..{MAX_QY})"
                )
            if (qx, qy) in seen:
                raise ValueError(f"organisation.qpe_coords: QPE ({qx}, {qy}) listed twice")
            seen.add((qx, qy))
        if self.pes_per_qpe.value > MAX_PES_PER_QPE:
            raise ValueError(
                f"organisation.pes_per_qpe: {self.pes_per_qpe.value} exceeds the 2-bit "
                f"PE-in-QPE field ({MAX_PES_PER_QPE})"
            )
        n = len(coords) * self.pes_per_qpe.value
        if self.application_pes.value != n:
            raise ValueError(
                f"organisation.application_pes: {self.application_pes.value} != "
                f"len(qpe_coords) x pes_per_qpe = {len(coords)} x {self.pes_per_qpe.value} = {n}"
            )
        if self.usable_pes.value > self.application_pes.value:
            raise ValueError(
                f"organisation.usable_pes: {self.usable_pes.value} exceeds application_pes "
                f"{self.application_pes.value}"
            )
        rx, ry = self.router_position.value
        if not (0 <= rx <= MAX_QX and 0 <= ry <= MAX_QY):
            raise ValueError(
                f"organisation.router_position: ({rx}, {ry}) is outside the mesh "
                f"(0..{MAX_QX}, 0..{MAX_QY})"
            )
        return self


class Memory(_Strict):
    sram_bytes_per_pe: PosInt
    sram_banks: PosInt
    code_sram_bytes: PosInt
    data_sram_bytes: PosInt
    stack_heap_bytes: NonNegInt
    sram_alignment_bytes: PosInt
    qpe_shared_sram: Sourced  # 1 = the 4 PEs of a QPE address each other's SRAM, 0 = not
    dram_bytes: NonNegInt
    dram_bandwidth_bytes_per_s: Pos

    @model_validator(mode="after")
    def _check(self):
        total = self.sram_bytes_per_pe.value
        code, data = self.code_sram_bytes.value, self.data_sram_bytes.value
        if code + data > total:
            raise ValueError(
                f"memory.code_sram_bytes + memory.data_sram_bytes = {code} + {data} = "
                f"{code + data} exceeds memory.sram_bytes_per_pe = {total}"
            )
        if self.stack_heap_bytes.value > data:
            raise ValueError(
                f"memory.stack_heap_bytes = {self.stack_heap_bytes.value} exceeds "
                f"memory.data_sram_bytes = {data}"
            )
        align = self.sram_alignment_bytes.value
        if align & (align - 1):
            raise ValueError(f"memory.sram_alignment_bytes: {align} is not a power of two")
        if self.qpe_shared_sram.value not in (0, 1):
            raise ValueError(
                f"memory.qpe_shared_sram: must be 0 or 1, got {self.qpe_shared_sram.value!r}"
            )
        return self


class CpuCycles(_Strict):
    """Cortex-M4F cycles per instruction class (zero-wait-state SRAM)."""

    alu: PosInt
    mul: PosInt
    div: PosInt
    load: PosInt
    load_pipelined: PosInt
    store: PosInt
    branch_taken: PosInt
    fp_add: PosInt
    fp_mul: PosInt
    fp_fma: PosInt
    fp_div: PosInt
    fp_sqrt: PosInt
    fp_load: PosInt
    fp_store: PosInt
    irq_entry: PosInt
    irq_exit: PosInt


class Cpu(_Strict):
    cycles: CpuCycles
    # extra cycles per data-SRAM access (load/store classes); None in older spec files = 0
    sram_wait_cycles: NonNegInt | None = None


class Accelerators(_Strict):
    mla_macs_per_cycle: PosInt
    mla_matvec_macs_per_cycle: PosInt
    exp_cycles: PosInt
    log_cycles: PosInt
    exp_driver_cycles: PosInt
    dma_bytes_per_cycle: Pos
    dma_setup_cycles: NonNegInt
    prng_bits_per_cycle: PosInt

    @model_validator(mode="after")
    def _check(self):
        if self.mla_matvec_macs_per_cycle.value > self.mla_macs_per_cycle.value:
            raise ValueError(
                "accelerators.mla_matvec_macs_per_cycle: "
                f"{self.mla_matvec_macs_per_cycle.value} exceeds accelerators.mla_macs_per_cycle "
                f"{self.mla_macs_per_cycle.value}"
            )
        return self


class Noc(_Strict):
    frequency_hz: Pos
    cycles_per_hop: PosInt
    flit_bits: PosInt
    max_payload_bits: PosInt
    link_flits_per_cycle: Pos

    @model_validator(mode="after")
    def _check(self):
        if self.max_payload_bits.value > self.flit_bits.value:
            raise ValueError(
                f"noc.max_payload_bits: {self.max_payload_bits.value} exceeds noc.flit_bits "
                f"{self.flit_bits.value}"
            )
        return self


class Router(_Strict):
    table_entries: PosInt
    frequency_hz: Pos
    pipeline_stages: PosInt
    routing_engines: PosInt


class Links(_Strict):
    chip_links: NonNegInt
    board_link_bits_per_s: Pos
    inter_board_link_bits_per_s: Pos
    link_packet_bits: PosInt
    link_energy_j_per_bit: NonNeg


class Host(_Strict):
    ethernet_bits_per_s: Pos
    bridge_qpe: SourcedXY
    per_packet_overhead_s: NonNeg


class Timing(_Strict):
    tick_period_s: Annotated[Sourced, AfterValidator(_positive), AfterValidator(_tick_period)]
    timer_reference_hz: Pos
    pl_switch_s: NonNeg
    packet_queue_depth: PosInt


class PerformanceLevel(_Strict):
    name: str
    voltage_v: Pos
    frequency_hz: Pos
    pe_sleep_power_w: NonNeg
    pe_active_energy_j_per_cycle: NonNeg
    mla_energy_j_per_mac: NonNeg


class Power(_Strict):
    chip_off_power_w: NonNeg
    noc_energy_j_per_hop: NonNeg
    router_energy_j_per_packet: NonNeg
    dram_energy_j_per_byte: NonNeg
    sram_energy_j_per_byte: NonNeg
    pl_switch_energy_j: NonNeg


class CalibrationLevel(_Strict):
    """Published whole-chip measurements at one voltage/frequency pair."""

    voltage_v: Pos
    frequency_hz: Pos
    chip_asleep_power_w: Pos
    chip_busy_power_w: Pos  # all PEs running CoreMark
    coremark_per_s: Pos
    mla_power_w: Pos
    mla_tops: Pos


class Calibration(_Strict):
    """Published measurements the model is checked against (data, not model parameters)."""

    chip_off_power_w: Pos
    levels: list[CalibrationLevel]
    mla_utilisation: Fraction
    synaptic_events_per_s_per_chip: Pos
    synaptic_events_per_s_per_pe: Pos
    neurons_per_chip: PosInt
    synaptic_tick_s: Pos


class ChipSpec(_Strict):
    """The whole chip: sections as in docs/design.md ("Spec")."""

    name: str = "SpiNNaker2"
    organisation: Organisation
    memory: Memory
    cpu: Cpu
    accelerators: Accelerators
    noc: Noc
    router: Router
    links: Links
    host: Host
    timing: Timing
    performance_levels: list[PerformanceLevel] = Field(
        min_length=1, max_length=MAX_PERFORMANCE_LEVELS
    )
    power: Power
    calibration: Calibration

    @model_validator(mode="after")
    def _check(self):
        names = [pl.name for pl in self.performance_levels]
        for i, n in enumerate(names):
            if names.index(n) != i:
                raise ValueError(f"performance_levels.{i}.name: {n!r} used twice")
        bq = tuple(self.host.bridge_qpe.value)
        if bq not in {tuple(c) for c in self.organisation.qpe_coords.value}:
            raise ValueError(f"host.bridge_qpe: {bq} is not in organisation.qpe_coords")
        rp = tuple(self.organisation.router_position.value)
        if rp in {tuple(c) for c in self.organisation.qpe_coords.value}:
            raise ValueError(
                f"organisation.router_position: {rp} is occupied by a QPE in qpe_coords"
            )
        return self

    # -- helpers used by hw, compiler and the CLI -------------------------------------------

    def pe_ids(self) -> list[int]:
        """All application PE ids, ascending (``(qx << 5) | (qy << 2) | p``)."""
        n = self.organisation.pes_per_qpe.value
        return sorted(
            encode_pe_id(qx, qy, p) for qx, qy in self.organisation.qpe_coords.value
            for p in range(n)
        )

    def qpes(self) -> list[Coord]:
        """QPE coordinates ``(qx, qy)``, ascending."""
        return sorted(tuple(c) for c in self.organisation.qpe_coords.value)

    def qpe_of(self, pe_id: int) -> Coord:
        """``(qx, qy)`` of the QPE holding ``pe_id``; SpecError if the id is not on this chip."""
        qx, qy, p = decode_pe_id(int(pe_id))
        if (
            pe_id < 0
            or pe_id >> (QX_BITS + QY_BITS + PE_BITS)
            or (qx, qy) not in {tuple(c) for c in self.organisation.qpe_coords.value}
            or p >= self.organisation.pes_per_qpe.value
        ):
            raise SpecError(f"PE id {pe_id} is not a PE of this chip ({self.name})")
        return (qx, qy)

    def pl(self, i: int) -> PerformanceLevel:
        """Performance level ``i``; SpecError naming the valid range otherwise."""
        n = len(self.performance_levels)
        try:
            k = operator.index(i)  # ints and numpy integers, not floats
        except TypeError:
            k = None
        if k is None or isinstance(i, bool) or not 0 <= k < n:
            raise SpecError(f"performance level {i!r} does not exist (levels 0..{n - 1})")
        return self.performance_levels[k]

    def leaves(self) -> list[tuple[str, _SourcedBase]]:
        """Every sourced leaf as ``(dotted path, Sourced)``, in spec order."""
        out: list[tuple[str, _SourcedBase]] = []
        _walk(self, "", out)
        return out

    def estimates(self) -> list[tuple[str, Any, str]]:
        """Every EST value as ``(dotted path, value, note)``, in spec order."""
        return [(p, s.value, s.note or "") for p, s in self.leaves() if s.source == "EST"]

    def overridden(self) -> list[tuple[str, Any, str]]:
        """Every USER value as ``(dotted path, value, note)``."""
        return [(p, s.value, s.note or "") for p, s in self.leaves() if s.source == "USER"]


def _walk(obj: Any, prefix: str, out: list) -> None:
    if isinstance(obj, _SourcedBase):
        out.append((prefix, obj))
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            _walk(getattr(obj, name), f"{prefix}.{name}" if prefix else name, out)
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            _walk(item, f"{prefix}.{i}", out)
