"""A readable text summary of a report (what `s2sim report FILE` and the bench commands print)."""

from __future__ import annotations

from s2sim.report.checks import checks_line, failed_checks
from s2sim.report.schema import Report

_PREFIXES = ((1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"))


def _prefix(v: float) -> tuple[float, str]:
    for scale, prefix in _PREFIXES:
        if abs(v) >= scale:
            return scale, prefix
    return 1, ""


def _si(v: float, unit: str) -> str:
    """3 significant digits with an SI prefix: 1.23e-5 s -> '12.3 us'."""
    if v == 0:
        return f"0 {unit}"
    scale, prefix = _prefix(v)
    return f"{v / scale:.3g} {prefix}{unit}"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(
            (c.ljust(w) if i == 0 else c.rjust(w)) for i, (c, w) in enumerate(zip(r, widths,
                                                                                  strict=True))
        ).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def comparison_table(report: Report) -> list[str]:
    """S2 vs each GPU, per step and per sequence, with the GPU/S2 ratios."""
    w = report.workload
    s = report.s2
    step, seq = w.step_name, w.steps_per_sequence
    rows = [(
        "platform", f"latency/{step}", f"energy/{step}", "power",
        f"latency/{seq}-{step} seq", f"energy/{seq}-{step} seq", "E gpu/s2", "t gpu/s2",
    )]
    if s is not None:
        rows.append((
            f"SpiNNaker2 ({w.engine}, PL{w.performance_level})",
            _si(s.latency_per_step_mean_s, "s"), _si(s.energy_per_step_j, "J"),
            _si(s.average_power_w, "W"), _si(s.latency_per_sequence_s, "s"),
            _si(s.energy_per_sequence_j, "J"), "1", "1",
        ))
    ratios = {r.gpu_key: r for r in report.ratios}
    for g in report.gpu:
        r = ratios.get(g.gpu_key)
        rows.append((
            f"{g.gpu_name} [{g.label}]",
            _band(g.latency_per_token_s, g.latency_per_token_low_s, g.latency_per_token_high_s,
                  "s"),
            _band(g.energy_per_token_j, g.energy_per_token_low_j, g.energy_per_token_high_j,
                  "J"),
            _si(g.average_power_w, "W"), _si(g.latency_per_sequence_s, "s"),
            _si(g.energy_per_sequence_j, "J"),
            _ratio(r.energy_gpu_over_s2, r.energy_gpu_over_s2_low, r.energy_gpu_over_s2_high)
            if r else "-",
            _ratio(r.latency_gpu_over_s2, r.latency_gpu_over_s2_low, r.latency_gpu_over_s2_high)
            if r else "-",
        ))
    out = _table(rows)
    if any(g.energy_per_token_low_j is not None for g in report.gpu):
        out.append("(GPU figures: central value (low-high); the band is the model at the "
                   "favourable / unfavourable end of every parameter's range)")
    return out


def _band(v: float, lo: float | None, hi: float | None, unit: str) -> str:
    """'48.1 us (40.2-55.3)': a central value with its band, in the central value's prefix."""
    text = _si(v, unit)
    if lo is None or hi is None or v == 0:
        return text
    scale, _ = _prefix(v)
    return f"{text} ({lo / scale:.3g}-{hi / scale:.3g})"


def _ratio(v: float, lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return f"{v:.3g}x"
    return f"{v:.3g}x ({lo:.3g}-{hi:.3g})"


def _steady_line(s, step: str) -> str:
    """Energy per step without the chip floor, and in steady state (pipeline full)."""
    line = (f"energy per {step} without the chip floor power "
            f"{_si(s.energy_per_step_above_floor_j, 'J')}")
    if s.energy_per_step_steady_j is None:
        return line + "; steady state: no per-tick split of this run"
    return (line + f"; steady state (after the {s.pipeline_fill_ticks}-tick pipeline fill) "
            f"{_si(s.energy_per_step_steady_j, 'J')} per {step}, "
            f"{_si(s.energy_per_step_steady_above_floor_j, 'J')} without the floor; fill and "
            f"drain {_si(s.energy_fill_and_drain_j, 'J')} of the run's "
            f"{_si(s.energy_total_j, 'J')}")


def _opt(v, fmt: str, none: str = "-") -> str:
    return none if v is None else format(v, fmt)


def machine_lines(m, step: str) -> list[str]:
    """The machine section: the link totals, a row per chip and per link."""
    dropped = "not simulated" if m.link_dropped is None else f"{m.link_dropped} dropped"
    lines = [f"machine:  {m.name}, {m.chips_used} of {m.chips_in_machine} chips used (needed "
             f"{m.chips_needed}); links: {m.link_packets} packets ({m.link_packets_per_step:.1f}"
             f"/{step}), {m.link_bits} bits, {dropped}; counted on the routes from the "
             f"reference's events: {m.link_packets_counted} packets, {m.link_hops} chip hops"
             + (f"; mismatches vs reference not checked ({m.mismatches_not_checked})"
                if m.mismatches_not_checked else "")]
    rows = [("chip", "board (x,y)", "PEs", "max SRAM/PE", "entries", f"energy/{step}",
             "busy", "NoC packets", "link packets out")]
    for c in m.chips:
        rows.append((str(c.chip), f"{c.board} ({c.x},{c.y})", str(c.pes),
                     f"{c.sram_bytes_per_pe_max / 1024:.1f} KiB",
                     f"{c.table_entries} ({c.table_entries_before})",
                     "-" if c.energy_per_step_j is None else _si(c.energy_per_step_j, "J"),
                     _opt(c.busy_fraction, ".4f"), _opt(c.noc_packets, "d"),
                     str(c.link_packets_out)))
    lines += ["  " + ln for ln in _table(rows)]
    rows = [("chip link -> chip", "packets", "bits", "dropped", "utilisation", "energy")]
    for r in m.links:
        rows.append((f"{r.chip} link {r.link} -> {r.to}", str(r.packets), str(r.bits),
                     _opt(r.dropped, "d"),
                     "-" if r.utilisation is None else f"{100 * r.utilisation:.3f} %",
                     "-" if r.energy_j is None else _si(r.energy_j, "J")))
    if m.links:
        lines += ["  " + ln for ln in _table(rows)]
    return lines


def summarize(report: Report, source: str = "") -> str:
    w = report.workload
    lines = []
    head = f"s2sim report v{report.version}" + (f" ({source})" if source else "")
    lines.append(head)
    if not report.complete:
        lines.append(f"!! INCOMPLETE: {report.incomplete_reason or 'run did not finish'}")
    lines.append(
        f"workload: {w.kind} model {w.model_name} ({w.model_source}), {w.n_steps} {w.step_name}s, "
        f"engine {w.engine}, PL{w.performance_level}, seed {w.seed}"
    )
    lines.append(f"input:    {w.data_source}" + (f" -- {w.data_note}" if w.data_note else ""))
    d = report.deployment
    if d is not None:
        cap = f" of {d.sram_bytes_per_pe_capacity / 1024:.0f} KiB" if d.sram_bytes_per_pe_capacity \
            else ""
        lines.append(
            f"chip:     {d.pes_used} PEs in {d.qpes_used} QPEs; SRAM per PE max "
            f"{d.sram_bytes_per_pe_max / 1024:.1f} KiB{cap}, mean "
            f"{d.sram_bytes_per_pe_mean / 1024:.1f} KiB; {d.routing_entries} routing entries; "
            f"objective {d.objective}" + (f" (--pes {d.pes_asked})" if d.pes_asked else "")
            + f", {d.index_bits}-bit weight indices, embedding + decoder on the {d.decoder}"
            + (f", tick by {d.tick_choice}" if d.tick_choice else "")
        )
    s = report.s2
    if s is not None:
        lines.append(
            f"per {w.step_name}: latency {_si(s.latency_per_step_mean_s, 's')} (max "
            f"{_si(s.latency_per_step_max_s, 's')}), energy {_si(s.energy_per_step_j, 'J')}, "
            f"power {_si(s.average_power_w, 'W')}, step period {_si(s.step_period_s, 's')}"
        )
        lines.append(_steady_line(s, w.step_name))
        lines.append(
            f"per {w.steps_per_sequence}-{w.step_name} sequence: latency "
            f"{_si(s.latency_per_sequence_s, 's')}, energy {_si(s.energy_per_sequence_j, 'J')}"
        )
        lines.append(
            f"activity: {s.events_per_step_mean:.1f} events/{w.step_name} "
            f"(by layer {', '.join(f'{v:.1f}' for v in s.events_per_step_by_layer_mean)}), "
            f"sparsity {s.activation_sparsity:.3f}, {s.packets_per_step_mean:.1f} packets "
            f"and {s.hops_per_step_mean:.1f} hops/{w.step_name}, effective MACs "
            f"{s.effective_macs_per_step_mean:.0f}/{w.step_name} of {s.dense_macs_per_step} dense"
        )
        if s.energy_by_component_per_step_j:
            parts = sorted(((k, v) for k, v in s.energy_by_component_per_step_j.items() if v),
                           key=lambda kv: -kv[1])
            lines.append(
                f"energy by component per {w.step_name}: "
                + ", ".join(f"{k} {_si(v, 'J')}" for k, v in parts)
            )
        if s.by_layer:
            lines.append(
                f"by layer per {w.step_name} (PEs' own energy, cycles, events): " + "; ".join(
                    f"{k} {p.pes} PEs {_si(p.energy_per_step_j, 'J')} "
                    f"{p.active_cycles_per_step:.0f} cyc"
                    + (f" {p.events_per_step:.1f} ev" if p.events_per_step is not None else "")
                    for k, p in s.by_layer.items()))
        lines.append(checks_line(s))
        why = failed_checks(s)
        if why:
            lines.append("!! WARNING: figures not trustworthy: " + "; ".join(why))
    if report.machine is not None:
        lines.extend(machine_lines(report.machine, w.step_name))
    q = report.quality
    if q is not None and q.metrics:
        lines.append(
            "quality:  " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(q.metrics.items()))
            + (f" ({q.source}, {q.tokens_scored} tokens)" if q.source else "")
        )
    if report.gpu or s is not None:
        lines.append("")
        lines.extend(comparison_table(report))
    for n in report.notes:
        lines.append(f"note: {n}")
    return "\n".join(lines)
