"""Build a Report from an engine RunResult, its Mapping and the GPU baselines.

Shared by every bench driver (`bench lm`, `bench gesture`, `bench lm --machine`, whose run on
several chips comes as a RunResult too: ``s2sim.engine.machine_des.as_run_result``, plus its
``machine`` section): a driver runs its workload, then calls
``build_report(workload, result, mapping, gpus, quality=...)`` and ``write_report``.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from typing import Any

import numpy as np

from s2sim.baselines.result import GpuBaselineResult
from s2sim.report.schema import (
    Deployment,
    Part,
    PeRow,
    Quality,
    Ratio,
    Report,
    S2Totals,
    StepRow,
    Workload,
)
from s2sim.spec.models import decode_pe_id

PS = 1e-12


def _get(obj: Any, *names: str):
    """First present attribute / key among ``names`` (EnergyReport field names vary by version)."""
    for n in names:
        if isinstance(obj, MappingABC) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            v = getattr(obj, n)
            return v() if callable(v) and not isinstance(v, np.ndarray) else v
    return None


def energy_by_component(energy: Any) -> dict[str, float]:
    """Energy by component (J) of an EnergyReport, sorted by name for stable output."""
    if energy is None:
        return {}
    comp = _get(energy, "by_component_j", "components_j", "by_component", "components")
    if comp is None:
        return {}
    return {str(k): float(np.sum(v)) for k, v in sorted(dict(comp).items())}


def energy_per_pe(energy: Any, pe_ids: list[int]) -> np.ndarray | None:
    """Chip energy attributed to each used PE (J), or None where the report has no such split."""
    if energy is None:
        return None
    v = _get(energy, "per_pe_j", "pe_j", "by_pe_j")
    if v is None:
        return None
    if isinstance(v, MappingABC):
        return np.array([float(v.get(p, 0.0)) for p in pe_ids])
    v = np.asarray(v, dtype=float)
    if v.ndim == 2:  # per PE x per step
        v = v.sum(axis=1)
    if len(v) == len(pe_ids):
        return v
    # indexed by pe_index over all the chip's PEs (ascending ids): pick the used ones
    from s2sim.report.plots import _qpe_coords

    all_pes = sorted((qx << 5) | (qy << 2) | i for qx, qy in _qpe_coords() for i in range(4))
    if len(v) != len(all_pes):
        return None
    index = {p: i for i, p in enumerate(all_pes)}
    return np.array([float(v[index[p]]) for p in pe_ids])


def energy_per_tick(result, mapping) -> np.ndarray | None:
    """Chip energy of each tick, priced by ``s2sim.hw.energy.price`` on one-tick slices of the
    run's counts. Only for runs at one fixed PL (the per-PL counters are totals); the slices must
    add up to the run's total energy, else None (no number rather than a wrong one)."""
    counts = getattr(result, "counts", None)
    if counts is None or mapping is None or not hasattr(counts, "pe") or result.energy_j is None:
        return None
    try:
        from s2sim.hw.energy import price
        from s2sim.hw.ledger import PL_FIELDS, Counts

        if int(counts.pe["pl_switches"].sum()) != 0:
            return None
        if int(getattr(counts, "ticks_per_column", 1)) != 1:
            return None  # long runs bin several ticks per column: no per-tick split
        spec = mapping.load_spec()
        n_pes, n_pl = counts.pl["cycles"].shape
        pl = int(mapping.pl)
        n_cols = counts.pe["active_cycles"].shape[1]
        out = np.zeros(n_cols)
        for k in range(n_cols):
            pe = {name: a[:, k : k + 1] for name, a in counts.pe.items()}
            pla = {f: np.zeros((n_pes, n_pl), np.int64) for f in PL_FIELDS}
            pla["residency_ps"][:, pl] = (pe["active_ps"] + pe["sleep_ps"] + pe["switch_ps"])[:, 0]
            pla["cycles"][:, pl] = pe["active_cycles"][:, 0]
            pla["macs"][:, pl] = pe["macs"][:, 0]
            start = k * counts.tick_period_ps
            dur = max(0, min(counts.tick_period_ps, counts.duration_ps - start))
            one = Counts(
                pe_ids=counts.pe_ids, tick_period_ps=counts.tick_period_ps, n_ticks=1,
                duration_ps=dur, loaded=counts.loaded, pe=pe, pl=pla,
                noc={n: a[k : k + 1] for n, a in counts.noc.items()},
                link_packets_per_link=np.zeros_like(counts.link_packets_per_link),
            )
            out[k] = price(one, spec).total_j
    except (ImportError, KeyError, AttributeError, IndexError, ValueError):
        return None
    total = float(result.energy_j)
    if total <= 0 or abs(out.sum() - total) > 1e-6 * total:
        return None
    return out


def deployment_of(mapping) -> Deployment:
    opts = getattr(mapping, "options", {}) or {}
    from s2sim.compiler.machine_map import split_global_pe

    pb = mapping.pe_bytes()
    pes = sorted(pb)
    # a machine's mapping numbers PEs across chips: a QPE is one of a chip
    qpes = {(c, *decode_pe_id(pe)[:2]) for c, pe in map(split_global_pe, pes)}
    layers = []
    for i, h in enumerate(mapping.layer_sizes):
        sl = mapping.layer_slices(i)
        layers.append({
            "layer": i,
            "hidden": int(h),
            "slices": len(sl),
            "nnz_w": int(sum(s.nnz_w for s in sl)),
            "nnz_r": int(sum(s.nnz_r for s in sl)),
        })
    weight_bytes = 0
    for s in mapping.slices:
        weight_bytes += sum(v for k, v in s.regions.items()
                            if k.startswith(("w_", "r_", "W", "R"))
                            or (getattr(s, "kind", None) == "decoder"
                                and k in ("col_ptr", "row_idx", "values")))
    return Deployment(
        pes_used=len(pes),
        qpes_used=len(qpes),
        sram_bytes_per_pe_max=int(max(pb.values())) if pb else 0,
        sram_bytes_per_pe_mean=float(np.mean(list(pb.values()))) if pb else 0.0,
        sram_bytes_per_pe_capacity=int(getattr(mapping, "data_bytes_available", 0) or 0),
        weight_bytes_total=int(weight_bytes),
        routing_entries=len(mapping.routes),
        layers=layers,
        objective=str(opts.get("objective") or "pes"),
        pes_asked=None if opts.get("pes") is None else int(opts["pes"]),
        index_bits=int(opts.get("index_bits") or 16),
        decoder="chip" if getattr(mapping, "decoder_on_chip", False) else "host",
        decoder_pes_used=len(mapping.decoder_slices()) if hasattr(mapping, "decoder_slices") else 0,
        tick_choice=str(opts.get("tick_choice") or ""),
        tick_margin=None if opts.get("tick_margin") is None else float(opts["tick_margin"]),
    )


def pooled_sparsity(by_layer: list[float], sizes: list[int] | None) -> float:
    """Activation sparsity over every neuron of every layer (NeuroBench's ActivationSparsity):
    the layers' figures weighted by their widths (every layer runs the same steps)."""
    if not by_layer:
        return 0.0
    w = np.asarray(sizes if sizes and len(sizes) == len(by_layer) else [1] * len(by_layer), float)
    return float(np.dot(w, by_layer) / w.sum())


def _steady(ticks: np.ndarray | None, fill: int, T: int, energy: float, floor: float) -> dict:
    """Steady-state figures: the mean energy of ticks ``fill .. T-1`` (one token entering each
    tick, every stage busy); the fill ticks before and the drain ticks after are the rest."""
    if ticks is None or T - fill < 1 or len(ticks) < T:
        return {}
    steady = float(np.mean(ticks[fill:T]))
    floor_per_tick = floor / len(ticks)
    return {"energy_per_step_steady_j": steady,
            "energy_per_step_steady_above_floor_j": steady - floor_per_tick,
            "energy_fill_and_drain_j": energy - steady * T}


def s2_totals(result, steps_per_sequence: int, mapping=None,
              tick_energy: np.ndarray | None = None) -> S2Totals:
    T = max(result.n_steps, 1)
    lat = np.asarray(result.latency_ps if result.latency_ps is not None else np.zeros(T),
                     dtype=np.int64)
    lat = lat[lat >= 0]  # steps whose output reached the host (missing_host_outputs: the rest)
    period_s = (result.step_period_ps or 0) * PS
    sim_s = (result.sim_time_ps or 0) * PS or period_s * T
    energy = float(result.energy_j or 0.0)
    comp = energy_by_component(result.energy)
    ev = np.asarray(result.events_per_step, dtype=np.int64).reshape(result.n_steps, -1)
    pk = result.packets_per_step if result.packets_per_step is not None else np.zeros(T)
    hp = result.hops_per_step if result.hops_per_step is not None else np.zeros(T)
    mean_lat = float(lat.mean()) * PS if len(lat) else 0.0
    e_step = energy / T
    sp = [float(s) for s in result.activation_sparsity]
    floor = comp.get("chip_floor", 0.0)
    fill = int(getattr(mapping, "pipeline_ticks", 0) or 0)
    return S2Totals(
        latency_per_step_mean_s=mean_lat,
        latency_per_step_max_s=float(lat.max()) * PS if len(lat) else 0.0,
        # tokens enter one per step period; the last one then takes its own latency
        latency_per_sequence_s=(steps_per_sequence - 1) * period_s + mean_lat,
        step_period_s=period_s,
        energy_total_j=energy,
        energy_per_step_j=e_step,
        energy_per_sequence_j=e_step * steps_per_sequence,
        average_power_w=energy / sim_s if sim_s > 0 else 0.0,
        energy_by_component_j=comp,
        energy_by_component_per_step_j={k: v / T for k, v in comp.items()},
        energy_per_step_above_floor_j=(energy - floor) / T,
        pipeline_fill_ticks=fill,
        **_steady(tick_energy, fill, result.n_steps, energy, floor),
        events_per_step_mean=float(ev.sum(axis=1).mean()) if ev.size else 0.0,
        events_per_step_by_layer_mean=[float(v) for v in ev.mean(axis=0)] if ev.size else [],
        packets_per_step_mean=float(np.mean(pk)),
        # without per-step hops (a machine: each chip's NoC counts its own), the run's total
        hops_per_step_mean=float(np.mean(hp)) if result.hops_per_step is not None
        else float(result.meta.get("noc_hops_total", 0)) / T,
        activation_sparsity_by_layer=sp,
        activation_sparsity=pooled_sparsity(sp, getattr(mapping, "layer_sizes", None)),
        effective_macs_per_step_mean=float(np.mean(result.effective_macs_per_step))
        if result.n_steps else 0.0,
        dense_macs_per_step=int(result.dense_macs_per_step),
        dropped_packets=int(result.dropped_packets),
        tick_overruns=int(result.tick_overruns),
        undelivered_packets=int(getattr(result, "undelivered_packets", 0)),
        missing_host_outputs=int(getattr(result, "missing_host_outputs", 0)),
        event_mismatches=None if result.mismatches.not_checked
        else int(result.mismatches.event_mismatches),
        value_mismatches=None if result.mismatches.not_checked
        else int(result.mismatches.value_mismatches),
        mismatches_not_checked=result.mismatches.not_checked,
        decoder_token_mismatches=result.meta.get("decoder_token_mismatches"),
        host={k: float(v) for k, v in result.host.to_dict().items()},
    )


def per_pe_rows(result, mapping, frequency_hz: float) -> list[PeRow]:
    if result.pe_ids is None or result.pe_counts is None:
        return []
    pe_ids = list(result.pe_ids)
    counts = {k: np.asarray(v) for k, v in result.pe_counts.items()}
    n = len(pe_ids)

    def col(name):
        return counts[name] if name in counts else np.zeros(n, dtype=np.int64)

    e_pe = energy_per_pe(result.energy, pe_ids)
    active = col("active_cycles")
    sim_s = (result.sim_time_ps or 0) * PS
    busy_den = frequency_hz * sim_s
    sram = mapping.pe_bytes() if mapping is not None else {}
    msc = result.max_step_cycles if result.max_step_cycles is not None else np.zeros(n)
    held = mapping.pe_slices() if mapping is not None else {}
    layer_of = {s.id: _layer_name(s, mapping) for s in mapping.slices} if mapping else {}
    rows = []
    for i, p in enumerate(pe_ids):
        ids = held.get(int(p), [])
        rows.append(PeRow(
            pe_id=int(p), pe_index=i, slices="+".join(ids),
            layer="+".join(dict.fromkeys(layer_of[s] for s in ids)),
            qx=decode_pe_id(int(p))[0], qy=decode_pe_id(int(p))[1],
            pe_in_qpe=decode_pe_id(int(p))[2],
            energy_j=float(e_pe[i]) if e_pe is not None else 0.0,
            busy_fraction=float(active[i] / busy_den) if busy_den > 0 else 0.0,
            sram_bytes=int(sram.get(p, 0)), active_cycles=int(active[i]),
            macs=int(col("macs")[i]), packets_sent=int(col("packets_sent")[i]),
            packets_received=int(col("packets_received")[i]),
            sram_read_bytes=int(col("sram_read_bytes")[i]),
            sram_written_bytes=int(col("sram_written_bytes")[i]),
            max_step_cycles=int(msc[i]),
        ))
    return rows


def _layer_name(sl, mapping) -> str:
    """A slice's layer as the report names it: "input", "0", "1", …, "readout"."""
    if sl.kind in ("input", "readout"):
        return sl.kind
    return str(sl.layer)


def parts(rows: list[PeRow], result, key: str) -> dict[str, Part]:
    """Per-step figures of each layer (``key="layer"``) or slice (``key="slices"``), summed over
    the PE rows that hold it; events: a layer's units that fired (the run's per-layer counts), a
    slice's the packets its PE sent (one per event)."""
    T = max(result.n_steps, 1)
    ev = np.asarray(result.events_per_step, dtype=np.int64).reshape(result.n_steps, -1)
    groups: dict[str, list[PeRow]] = {}
    for r in rows:
        groups.setdefault(getattr(r, key) or "-", []).append(r)
    out = {}
    for name, rs in groups.items():
        events = None
        if key == "layer" and name.isdigit() and int(name) < ev.shape[1]:
            events = float(ev[:, int(name)].sum()) / T
        elif key == "slices" and name.startswith("L") and "+" not in name:
            events = sum(r.packets_sent for r in rs) / T
        out[name] = Part(
            pes=len(rs), energy_per_step_j=sum(r.energy_j for r in rs) / T,
            active_cycles_per_step=sum(r.active_cycles for r in rs) / T,
            packets_sent_per_step=sum(r.packets_sent for r in rs) / T,
            packets_received_per_step=sum(r.packets_received for r in rs) / T,
            events_per_step=events)
    return dict(sorted(out.items(), key=lambda kv: _part_order(kv[0])))


def _part_order(name: str):
    """input, the layers (and their slices) in order, readout last."""
    if name.startswith("input"):
        return (0, 0, 0, name)
    if name.startswith("readout"):
        return (2, 0, 0, name)
    nums = [int(x) for x in name.replace("L", " ").replace(".S", " ").split("+")[0].split()
            if x.isdigit()]
    return (1, *(nums + [0, 0])[:2], name)


def per_step_rows(result, mapping=None, e: np.ndarray | None = None) -> list[StepRow]:
    """One row per step; ``e``: the tick energies when the caller has them already."""
    T = result.n_steps
    lat = result.latency_ps
    if e is None:
        e = energy_per_tick(result, mapping)
    ev = np.asarray(result.events_per_step).reshape(T, -1).sum(axis=1)
    pk = result.packets_per_step
    hp = result.hops_per_step
    macs = np.asarray(result.effective_macs_per_step)
    return [
        StepRow(
            step=t,
            latency_s=(None if lat[t] < 0 else float(lat[t]) * PS) if lat is not None else 0.0,
            tick_energy_j=float(e[t]) if e is not None and t < len(e) else None,
            events=int(ev[t]),
            packets=int(pk[t]) if pk is not None else 0,
            hops=int(hp[t]) if hp is not None else None,
            effective_macs=int(macs[t]),
        )
        for t in range(T)
    ]


def ratios_of(s2: S2Totals, gpus: list[GpuBaselineResult]) -> list[Ratio]:
    out = []
    for g in gpus:
        if s2.energy_per_step_j <= 0 or s2.latency_per_step_mean_s <= 0:
            continue
        e, t = s2.energy_per_step_j, s2.latency_per_step_mean_s
        out.append(Ratio(
            gpu_key=g.gpu_key, gpu_label=g.label,
            energy_gpu_over_s2=g.energy_per_token_j / e,
            latency_gpu_over_s2=g.latency_per_token_s / t,
            energy_gpu_over_s2_low=_over(g.energy_per_token_low_j, e),
            energy_gpu_over_s2_high=_over(g.energy_per_token_high_j, e),
            latency_gpu_over_s2_low=_over(g.latency_per_token_low_s, t),
            latency_gpu_over_s2_high=_over(g.latency_per_token_high_s, t),
        ))
    return out


def _over(gpu_value: float | None, s2_value: float) -> float | None:
    """A GPU band end over the S2 figure (the S2 side is taken at its central value)."""
    return None if gpu_value is None else gpu_value / s2_value


def build_report(
    workload: Workload,
    result=None,
    mapping=None,
    gpus: list[GpuBaselineResult] | None = None,
    quality: Quality | None = None,
    notes: list[str] | None = None,
    complete: bool = True,
    incomplete_reason: str = "",
    check_des: dict | None = None,
    machine=None,
) -> Report:
    """Assemble a report; any part may be missing (an interrupted run has what it finished).
    ``machine``: the ``Machine`` section of a run on several chips (its routing entries are the
    chips' tables)."""
    gpus = list(gpus or [])
    deployment = deployment_of(mapping) if mapping is not None else None
    if deployment is not None and machine is not None:
        deployment.routing_entries = sum(c.table_entries for c in machine.chips)
    s2 = per_pe = per_step = None
    if result is not None and result.latency_ps is not None:
        ticks = energy_per_tick(result, mapping)
        s2 = s2_totals(result, workload.steps_per_sequence, mapping, ticks)
        freq = float(getattr(mapping, "frequency_hz", 0.0) or 0.0)
        per_pe = per_pe_rows(result, mapping, freq)
        s2.by_layer = parts(per_pe, result, "layer")
        s2.by_slice = parts(per_pe, result, "slices")
        per_step = per_step_rows(result, mapping, ticks)
    return Report(
        complete=complete,
        incomplete_reason=incomplete_reason,
        workload=workload,
        deployment=deployment,
        s2=s2,
        per_pe=per_pe or [],
        per_step=per_step or [],
        gpu=gpus,
        ratios=ratios_of(s2, gpus) if s2 is not None else [],
        quality=quality,
        notes=list(notes or []),
        check_des=check_des,
        machine=machine,
    )


def report_of_run(result, mapping, *, data_source: str = "inputs given in Python",
                  seed: int = 0, command: list[str] | None = None, model_source: str | None = None,
                  gpus: list[GpuBaselineResult] | None = None,
                  check_des: dict | None = None) -> Report:
    """The report (the bench schema) of one ``run_mapping`` result on ``mapping``, the
    workload filled in from them (``s2sim.build_report`` in Python; ``s2sim run --out``):
    a language model's steps are tokens (70 to a sequence), a classifier's frames."""
    lm = mapping.network.input.embedding is not None
    workload = Workload(kind="lm" if lm else "gesture", model_name=mapping.network_name,
                        model_source=str(model_source or mapping.network_ref or "built in Python"),
                        data_source=data_source, n_steps=int(result.n_steps),
                        step_name="token" if lm else "frame", steps_per_sequence=70 if lm else 1,
                        engine=result.engine, performance_level=int(mapping.pl), seed=int(seed),
                        command=list(command or []))
    return build_report(workload, result=result, mapping=mapping, gpus=gpus, check_des=check_des)
