"""Mapping: the compiler's output as plain data (pydantic), JSON round trip, stage reports.

A Mapping holds every decision (partition, placement, keys, routing table, SRAM regions, timing
scheme) but not the weights: those are rebuilt from the network (``network_ref`` names a
checkpoint or the paper-shape generator; its sha256 ``network_fingerprint`` is checked when the
mapping is run). A network built in Python is passed to ``run_mapping(..., network=net)``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from firmware_py.schedule import SendSchedule
from s2sim.errors import CompileError, S2SimError
from s2sim.spec.models import decode_pe_id

__all__ = ["SliceInfo", "RouteEntry", "Mapping", "MAPPING_FORMAT", "MAPPING_VERSION"]

MAPPING_FORMAT = "s2sim-mapping"
MAPPING_VERSION = 1


class _Plain(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SliceInfo(_Plain):
    """One program instance: input source, EGRU slice, decoder block or readout."""

    id: str  # "input", "L0.S3", "D.S2", "readout"
    kind: Literal["input", "egru", "decoder", "readout"]
    layer: int  # -1 input, 0..L-1 EGRU layer, L decoder block / readout
    index: int  # slice index within the layer (0 for input / readout)
    # unit indices of the layer held here (input: elements; decoder: vocabulary rows; readout:
    # none)
    units: list[int]
    n_in: int
    nnz_w: int = 0
    nnz_r: int = 0
    regions: dict[str, int]
    sram_bytes: int
    est_cycles_per_step: int
    key_base: int | None = None  # None: sends nothing on chip
    first_tick: int  # first tick whose handler does work (pipeline fill)
    send_phase: int | None = None  # EGRU senders: phase of the send schedule (0 odd, 1 even)
    send_slot: int | None = None  # EGRU senders: group within the phase
    mean_event_cycles: int = 0  # expected handler cycles per received event (irq excluded)
    tick_cycles_max: int = 0  # tick handler cycles with every unit firing (irq excluded)


class RouteEntry(_Plain):
    key: int
    mask: int
    pes: list[int]
    sources: list[str]


class Mapping(_Plain):
    format: Literal["s2sim-mapping"] = MAPPING_FORMAT
    version: int = MAPPING_VERSION
    network_name: str
    network_ref: str | None
    network_fingerprint: str
    layer_sizes: list[int]
    n_in: int
    readout_n_out: int
    readout_trace: bool
    host_decoder: str | None
    spec_path: str | None
    spec_overrides: dict[str, str] = Field(default_factory=dict)
    pl: int
    frequency_hz: float
    tick_period_ps: int
    cycles_per_tick: int
    partitioner: str
    placer: str
    options: dict[str, float | int | str | bool | None] = Field(default_factory=dict)
    slices: list[SliceInfo]
    placement: dict[str, int]
    pins: dict[str, int] = Field(default_factory=dict)
    routes_before: int
    routes: list[RouteEntry]
    table_entries: int
    data_bytes_available: int
    pipeline_ticks: int  # ticks from a step's input emission to its output reaching the readout
    schedule: SendSchedule | None = None
    compile_s: float = 0.0  # wall clock of the compile (not part of the deterministic report)

    _network = PrivateAttr(default=None)
    _spec = PrivateAttr(default=None)
    _validated = PrivateAttr(default=None)  # (spec, network, content) last validated
    _loaded_spec = PrivateAttr(default=None)  # (spec_path + overrides, the spec loaded)

    # -- access ------------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.layer_sizes)

    def slice(self, sid: str) -> SliceInfo:
        for s in self.slices:
            if s.id == sid:
                return s
        raise CompileError(f"mapping has no slice {sid!r}")

    def layer_slices(self, layer: int) -> list[SliceInfo]:
        return [s for s in self.slices if s.kind == "egru" and s.layer == layer]

    @property
    def decoder_on_chip(self) -> bool:
        """Whether the tied embedding/decoder runs on the chip (``--decoder chip``)."""
        return self.options.get("decoder") == "chip"

    def decoder_slices(self) -> list[SliceInfo]:
        return [s for s in self.slices if s.kind == "decoder"]

    @property
    def vocab_size(self) -> int:
        """Rows of the on-chip decoder's table (0 with the decoder on the host)."""
        return sum(len(s.units) for s in self.decoder_slices())

    @property
    def required_cycles_per_tick(self) -> int:
        """Cycles a tick needs: the busiest PE's estimated work per step with the compile's
        headroom, and the end of the send schedule (both at the assumed activity)."""
        head = float(self.options.get("cycle_headroom", 0.0) or 0.0)
        work = max(sum(s.est_cycles_per_step for s in self.slices if self.placement[s.id] == pe)
                   for pe in self.pes_used())
        return int(max(math.ceil(work / (1.0 - head)),
                       self.schedule.est_end_cycles if self.schedule else 0))

    def pes_used(self) -> list[int]:
        return sorted(set(self.placement.values()))

    def pe_slices(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for s in self.slices:
            out.setdefault(self.placement[s.id], []).append(s.id)
        return dict(sorted(out.items()))

    def pe_bytes(self) -> dict[int, int]:
        by = {s.id: s.sram_bytes for s in self.slices}
        return {pe: sum(by[s] for s in ss) for pe, ss in self.pe_slices().items()}

    @field_validator("schedule", mode="before")
    @classmethod
    def _no_schedule(cls, v):
        return None if v == {} else v  # mappings written without a schedule

    def bind(self, network, spec=None) -> Mapping:
        """Use these in-memory objects (the ones the mapping was compiled from) as they are:
        no fingerprint check, and ``spec`` (if given) instead of loading the recorded one."""
        self._network = network
        self._spec = spec
        return self

    @property
    def bound_spec(self):
        """The in-memory spec object bound with ``bind`` (None: the recorded spec is loaded)."""
        return self._spec

    def validate(self, spec=None, network=None) -> Mapping:
        """Check the mapping against the chip spec and the network (s2sim.compiler.checks);
        raises a one-line CompileError/ResourceError naming the slice, PE, key or field."""
        from s2sim.compiler.checks import validate_mapping

        spec = self.load_spec() if spec is None else spec
        network = self.network if network is None else network
        # a mapping run many times unchanged (sweeps, the tick search) is checked once
        key = (id(spec), id(network), hash(self.to_json()))
        if self._validated != key:
            validate_mapping(self, spec, network)
            self._validated = key
        return self

    def reroute(self, network=None) -> Mapping:
        """A copy whose keys, routes and send schedule are recomputed from this placement (after
        editing ``placement`` by hand); SRAM and cycle budgets per PE are checked."""
        from s2sim.compiler.compile import reroute

        return reroute(self, self.network if network is None else network)

    def attach(self, network) -> Mapping:
        if network.fingerprint() != self.network_fingerprint:
            raise CompileError(
                f"network {network.name!r} does not match the mapping (fingerprint "
                f"{network.fingerprint()[:12]} != {self.network_fingerprint[:12]})")
        self._network = network
        return self

    @property
    def network(self):
        if self._network is None:
            from s2sim.compiler.ir import resolve_network

            self.attach(resolve_network(self.network_ref))
        return self._network

    def load_spec(self):
        """The chip spec the mapping was compiled for (the in-memory one if compile_network was
        given a spec object; else the spec file + overrides recorded in the mapping)."""
        if self._spec is not None:
            return self._spec
        from s2sim.spec import load_spec

        key = (self.spec_path, tuple(sorted(self.spec_overrides.items())))
        if self._loaded_spec is None or self._loaded_spec[0] != key:
            # loaded once per mapping (a spec file does not change during a session's runs)
            self._loaded_spec = (key, load_spec(self.spec_path, dict(self.spec_overrides) or None))
        return self._loaded_spec[1]

    # -- JSON --------------------------------------------------------------------------------
    def to_json(self, folder=None) -> str:
        """The JSON text; ``folder``: the folder of the file it goes to, which its checkpoint
        reference is made relative to where the two share a folder
        (``models.egru.names.portable_ref``), so that a moved folder still finds it."""
        if folder is None:
            return self.model_dump_json(indent=1, exclude={"compile_s"})
        from models.egru.names import portable_ref

        ref = portable_ref(self.network_ref, Path(folder))
        return self.model_copy(update={"network_ref": ref}).to_json()

    @classmethod
    def from_json(cls, text: str, where: str = "<string>", folder=None) -> Mapping:
        """A mapping from JSON text (one-line errors naming ``where``); ``folder``: the folder of
        the file it came from, from which a relative checkpoint reference is resolved (the
        mapping in memory holds it absolute)."""
        m = cls._from_json(text, where)
        if folder is not None:
            from models.egru.names import absolute_ref

            m.network_ref = absolute_ref(m.network_ref, Path(folder))
        return m

    @classmethod
    def _from_json(cls, text: str, where: str) -> Mapping:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CompileError(f"{where}: not a mapping JSON file ({exc.msg}, line {exc.lineno})"
                               ) from None
        if not isinstance(data, dict) or data.get("format") != MAPPING_FORMAT:
            raise CompileError(f"{where}: not an s2sim mapping (format field missing or wrong)")
        if data.get("version") != MAPPING_VERSION:
            raise CompileError(f"{where}: mapping version {data.get('version')!r}, this s2sim "
                               f"reads version {MAPPING_VERSION}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise CompileError(f"{where}: field {loc}: {err['msg']}") from None

    def save(self, path) -> Path:
        from s2sim.atomic import write_text_atomic

        return write_text_atomic(path, self.to_json(folder=Path(path).parent))

    @classmethod
    def load(cls, path) -> Mapping:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise S2SimError(f"{path}: cannot read mapping ({exc.strerror})") from None
        return cls.from_json(text, where=str(path), folder=path.parent)

    # -- reports -----------------------------------------------------------------------------
    def summary(self) -> dict:
        pb = self.pe_bytes()
        worst = max(pb, key=lambda p: (pb[p], -p))
        est = {s.id: s.est_cycles_per_step for s in self.slices}
        return {
            "network": self.network_name,
            "layers": self.layer_sizes,
            "pes_used": len(pb),
            "slices": len(self.slices),
            "largest_pe_bytes": pb[worst],
            "largest_pe": worst,
            "data_bytes_available": self.data_bytes_available,
            "routes_before": self.routes_before,
            "routes_after": len(self.routes),
            "table_entries": self.table_entries,
            "pl": self.pl,
            "frequency_hz": self.frequency_hz,
            "tick_period_ps": self.tick_period_ps,
            "max_est_cycles_per_step": max(est.values()),
            "cycles_per_tick": self.cycles_per_tick,
            "pipeline_ticks": self.pipeline_ticks,
            "partitioner": self.partitioner,
            "placer": self.placer,
        }

    def report(self) -> str:
        """A text report per stage: partition table, placement map, SRAM per PE, routing."""
        lines = []
        sm = self.summary()
        lines.append(f"# mapping of {self.network_name}: layers {self.layer_sizes}, "
                     f"{sm['pes_used']} PEs, PL{self.pl} @ {self.frequency_hz / 1e6:.0f} MHz, "
                     f"tick {self.tick_period_ps / 1e6:.3f} us")
        lines.append("")
        lines.append(f"## partition ({self.partitioner})")
        lines.append(f"{'slice':>10} {'units':>6} {'first..last':>12} {'nnz_W':>8} {'nnz_R':>8} "
                     f"{'bytes':>8} {'est_cyc':>9} {'cyc%tick':>8}")
        for s in self.slices:
            span = f"{min(s.units)}..{max(s.units)}" if s.units else "-"
            lines.append(f"{s.id:>10} {len(s.units):>6} {span:>12} {s.nnz_w:>8} {s.nnz_r:>8} "
                         f"{s.sram_bytes:>8} {s.est_cycles_per_step:>9} "
                         f"{100 * s.est_cycles_per_step / self.cycles_per_tick:>7.1f}%")
        lines.append("")
        lines.append(f"## placement ({self.placer}); QPE grid, cell = slices on its 4 PEs")
        ps = self.pe_slices()
        qpes: dict[tuple[int, int], list[str]] = {}
        for pe, ss in ps.items():
            qx, qy, p = decode_pe_id(pe)
            qpes.setdefault((qx, qy), []).append(f"{p}:{'+'.join(ss)}")
        for (qx, qy), cells in sorted(qpes.items()):
            lines.append(f"  QPE ({qx},{qy}): " + "  ".join(cells))
        lines.append("")
        lines.append(f"## SRAM per PE (data bytes available {self.data_bytes_available})")
        by = {s.id: s for s in self.slices}
        for pe, ss in ps.items():
            regs: dict[str, int] = {}
            for sid in ss:
                for k, v in by[sid].regions.items():
                    regs[f"{sid}.{k}" if len(ss) > 1 else k] = v
            total = sum(regs.values())
            detail = ", ".join(f"{k}={v}" for k, v in regs.items())
            lines.append(f"  PE {pe:>3} ({'+'.join(ss)}): {total} B "
                         f"({100 * total / self.data_bytes_available:.1f}%): {detail}")
        lines.append("")
        sch = self.schedule
        if sch:
            lines.append(f"## send schedule (cycles from the tick): input from "
                         f"{sch.start_a_cycles}, one per {sch.slot_a_cycles}; phases "
                         f"start {sch.phase_start_cycles}, {sch.phase_groups} groups of "
                         f"up to {sch.group_size} senders from {sch.group_start_cycles}; "
                         f"at the assumed activity the sends end by ~{sch.est_end_cycles} of "
                         f"{self.cycles_per_tick}; input handed over "
                         f"{sch.input_chunk_events or 'all'} events at a time; receivers' "
                         f"queues ({sch.queue_depth or '?'} packets) hold a firing fraction "
                         f"up to {sch.tolerated_activity}")
            lines.append("")
        lines.append(f"## routing: {self.routes_before} entries before compression, "
                     f"{len(self.routes)} after, table holds {self.table_entries}")
        for r in self.routes:
            src = r.sources[0] if len(r.sources) == 1 else f"{r.sources[0]}..{r.sources[-1]}"
            lines.append(f"  key 0x{r.key:08x} mask 0x{r.mask:08x} -> {len(r.pes)} PEs ({src})")
        return "\n".join(lines) + "\n"
