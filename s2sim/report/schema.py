"""The versioned report schema shared by `s2sim bench lm` and `s2sim bench gesture`.

A report is one JSON file (``report.json``) plus CSV tables (``per_pe.csv``, ``per_step.csv``,
``gpu.csv``) and PNG plots written next to it. Every numeric field carries its unit in its name.
Bump ``REPORT_VERSION`` on any incompatible change; readers refuse other versions with one line.

Sections:
  workload    what ran: model, data, steps, engine, PL, seed, the command
  deployment  how it sat on the chip: PEs/QPEs used, SRAM per PE
  s2          totals per step (token/frame) and per sequence: latency, energy, power, traffic,
              activity, effective MACs, energy by component, correctness checks
  s2.by_layer / s2.by_slice   the same figures per layer and per slice (``Part``)
  per_pe      one row per used PE, with its slices and layer (chip map, CSV)
  per_step    one row per time step (latency plot, CSV)
  gpu         GPU baselines (modelled / measured on <device>)
  ratios      GPU / S2 for energy and latency per step (> 1: S2 is better)
  quality     task metrics (perplexity, accuracy) with where they came from
  machine     only in a report of a machine of chips (``bench lm --machine``): per chip and per
              chip-to-chip link (absent, not null, from a one-chip report, whose bytes are as
              before the section existed)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from s2sim.baselines.result import GpuBaselineResult

REPORT_SCHEMA = "s2sim-report"
REPORT_VERSION = 2  # 2: pooled activation_sparsity, steady-state and above-floor energy, by_layer,
#                     by_slice, per-PE slices/layer


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Workload(_Strict):
    kind: str = Field(description='"lm" or "gesture" (or another bench driver)')
    model_name: str
    model_source: str = Field(description="shipped | paper-shape | checkpoint path")
    data_source: str = Field(description="data set file, or a description of generated input")
    data_note: str = ""
    n_steps: int
    step_name: str = Field("token", description='"token" or "frame"')
    steps_per_sequence: int = 70
    engine: str
    performance_level: int
    seed: int = 0
    command: list[str] = Field(default_factory=list)


class Deployment(_Strict):
    pes_used: int
    qpes_used: int
    sram_bytes_per_pe_max: int
    sram_bytes_per_pe_mean: float
    sram_bytes_per_pe_capacity: int = 0
    weight_bytes_total: int = 0
    routing_entries: int = 0
    layers: list[dict[str, object]] = Field(default_factory=list)
    objective: str = "pes"  # compile objective: fewest PEs | latency | energy
    pes_asked: int | None = None  # --pes N (None: the objective's choice)
    index_bits: int = 16  # width of a stored weight's column index
    # where the embedding lookup and the tied decoder run: the host (their cost reported apart
    # from the chip's, in s2.host) or the chip (--decoder chip: its blocks' SRAM, cycles,
    # traffic and energy are the chip's)
    decoder: str = "host"
    decoder_pes_used: int = 0  # PEs holding the table's row blocks (decoder chip)
    tick_choice: str = ""  # auto | estimate | spec | given (how the step period was chosen)
    tick_margin: float | None = None  # with auto: the margin over the shortest clean tick


class Part(_Strict):
    """One layer's or one slice's share of the chip's work, per step (token/frame), from the
    counters of the PEs that hold it. Energy is the PEs' own (active, sleep, SRAM, MLA); the
    chip floor, NoC and router energy belong to no part (``energy_by_component_j``). A PE that
    holds slices of several parts is counted in the part named by all of them ("L0.S1+L1.S0")."""

    pes: int
    energy_per_step_j: float
    active_cycles_per_step: float
    packets_sent_per_step: float
    packets_received_per_step: float
    # units that fired per step (an EGRU slice sends one packet per event); None: not a layer
    events_per_step: float | None = None


class S2Totals(_Strict):
    """Chip-side figures (host work is reported apart, in ``host``)."""

    latency_per_step_mean_s: float
    latency_per_step_max_s: float
    latency_per_sequence_s: float
    step_period_s: float
    energy_total_j: float
    energy_per_step_j: float
    energy_per_sequence_j: float
    average_power_w: float
    energy_by_component_j: dict[str, float] = Field(default_factory=dict)
    energy_by_component_per_step_j: dict[str, float] = Field(default_factory=dict)
    # energy per step without the chip's fixed floor power (``chip_floor``: paid whatever runs)
    energy_per_step_above_floor_j: float = 0.0
    # steady state: the mean energy of the ticks after the pipeline fill (``pipeline_fill_ticks``
    # = the mapping's pipeline_ticks), one token entering each tick; the fill and the drain
    # after the last token are the rest of ``energy_total_j``. None where the counts have no
    # per-tick split (PL switches, long runs binned), or the run is shorter than the fill
    energy_per_step_steady_j: float | None = None
    energy_per_step_steady_above_floor_j: float | None = None
    energy_fill_and_drain_j: float | None = None
    pipeline_fill_ticks: int = 0
    events_per_step_mean: float
    events_per_step_by_layer_mean: list[float] = Field(default_factory=list)
    packets_per_step_mean: float
    hops_per_step_mean: float
    # NeuroBench's ActivationSparsityByLayer and ActivationSparsity (pooled over all neurons)
    activation_sparsity_by_layer: list[float] = Field(default_factory=list)
    activation_sparsity: float
    effective_macs_per_step_mean: float
    dense_macs_per_step: int
    dropped_packets: int = 0
    tick_overruns: int = 0
    # packets that never reached a PE, and steps whose output never reached the host (the
    # latency figures are over the other steps): any of them makes the figures untrustworthy
    undelivered_packets: int = 0
    missing_host_outputs: int = 0
    event_mismatches: int | None = 0  # None: not checked (the engine's outputs are the reference's)
    value_mismatches: int | None = 0
    mismatches_not_checked: str | None = None  # why the mismatches are not checked
    # with the decoder on the chip (--decoder chip): steps whose token (the chip's argmax) differs
    # from the oracle's; None: no on-chip decoder, or not checked (engines that reuse the oracle)
    decoder_token_mismatches: int | None = None
    host: dict[str, float] = Field(default_factory=dict)
    by_layer: dict[str, Part] = Field(default_factory=dict)  # "input", "0", "1", …, "readout"
    by_slice: dict[str, Part] = Field(default_factory=dict)  # slice ids: "L0.S3", "input", …


class PeRow(_Strict):
    pe_id: int
    pe_index: int
    slices: str = ""  # the slice ids it holds, "+"-joined (mapping.json's placement)
    layer: str = ""  # their layer: "input", "0", "1", …, "readout" ("+"-joined if several)
    qx: int
    qy: int
    pe_in_qpe: int
    energy_j: float
    busy_fraction: float
    sram_bytes: int
    active_cycles: int
    macs: int = 0
    packets_sent: int = 0
    packets_received: int = 0
    sram_read_bytes: int = 0
    sram_written_bytes: int = 0
    max_step_cycles: int = 0


class StepRow(_Strict):
    step: int
    latency_s: float | None  # None: the step's output never reached the host
    # energy the whole chip used during tick ``step`` (tokens are pipelined across ticks, so
    # this is not one token's energy); None where the engine's counts have no per-tick split
    tick_energy_j: float | None = None
    events: int
    packets: int
    hops: int | None  # None: not counted per step (a machine: each chip's NoC counts its own)
    effective_macs: int


class Ratio(_Strict):
    gpu_key: str
    gpu_label: str
    energy_gpu_over_s2: float = Field(description="> 1: S2 uses less energy per step")
    latency_gpu_over_s2: float = Field(description="> 1: S2 is faster per step")
    # the range from the GPU figure's band (None where the GPU row has none, e.g. measured)
    energy_gpu_over_s2_low: float | None = None
    energy_gpu_over_s2_high: float | None = None
    latency_gpu_over_s2_low: float | None = None
    latency_gpu_over_s2_high: float | None = None


class Quality(_Strict):
    metrics: dict[str, float] = Field(default_factory=dict)  # e.g. test_perplexity, accuracy
    source: str = ""
    tokens_scored: int = 0


class ChipRow(_Strict):
    """One used chip of a machine run (``s2.energy_by_component_j`` sums them)."""

    chip: int  # the chip's index in the machine
    board: int
    x: int  # the chip's position on its board
    y: int
    pes: int
    sram_bytes_per_pe_max: int
    table_entries: int  # its routing table after compression
    table_entries_before: int
    # None with the analytic engine (link traffic counted, no per-chip time or energy)
    energy_j: float | None = None
    energy_per_step_j: float | None = None
    busy_fraction: float | None = None  # its PEs' active time over the run, mean
    noc_packets: int | None = None
    link_packets_out: int = 0
    energy_by_component_j: dict[str, float] = Field(default_factory=dict)


class LinkRow(_Strict):
    """One used directed chip-to-chip link."""

    chip: int
    link: int  # the link's index on the chip (0..5, hexagonal)
    to: int  # the chip at its other end
    packets: int
    bits: int
    # None with the analytic engine (no link queues simulated)
    dropped: int | None = None
    utilisation: float | None = None  # busy time over the run
    energy_j: float | None = None


class Machine(_Strict):
    """A run on a machine of several chips: its chips, links and their traffic."""

    name: str  # board48, board:N, boards:N
    chips_in_machine: int
    chips_used: int
    chips_needed: int  # the fewest that hold the network at this tick
    # des: time, energy and link queues simulated; analytic: the link traffic counted from the
    # reference's events on the compiled multicast trees (no s2 section)
    timed: bool
    link_packets: int
    link_packets_per_step: float
    link_bits: int
    link_hops: int  # chip-to-chip hops of the analytic count
    link_dropped: int | None = None  # None: not simulated (analytic)
    # the analytic count on the same trees (with no drops the DES's link packets equal it)
    link_packets_counted: int
    # why the outputs were not compared with the reference (analytic: the counts are of the
    # reference's own events); None: compared, the counts are in ``s2``
    mismatches_not_checked: str | None = None
    chips: list[ChipRow] = Field(default_factory=list)
    links: list[LinkRow] = Field(default_factory=list)


class Report(_Strict):
    schema_name: Literal["s2sim-report"] = REPORT_SCHEMA
    version: int = REPORT_VERSION
    complete: bool = True
    incomplete_reason: str = ""
    generator: str = "s2sim"
    workload: Workload
    deployment: Deployment | None = None
    s2: S2Totals | None = None
    per_pe: list[PeRow] = Field(default_factory=list)
    per_step: list[StepRow] = Field(default_factory=list)
    gpu: list[GpuBaselineResult] = Field(default_factory=list)
    ratios: list[Ratio] = Field(default_factory=list)
    quality: Quality | None = None
    notes: list[str] = Field(default_factory=list)
    # --check-des N: the first N steps again on the DES (s2sim.engine.crosscheck.check_on_des)
    check_des: dict[str, object] | None = None
    # `s2sim run`: the mapping summary, how the tick was chosen, the engine's RunResult summary
    # and the priced energy as they were (None in a bench report)
    run: dict[str, object] | None = None
    # a machine of chips (bench lm --machine); left out of the JSON of a one-chip report
    machine: Machine | None = None
