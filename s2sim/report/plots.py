"""PNG plots of a report: chip map, latency per step, energy by component, S2 vs GPU."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from s2sim.atomic import write_bytes_atomic
from s2sim.report.schema import Report

# The QPE grid (MC core map, as in the bundled spec): qx 1..7, qy 1..6 without the router gap at
# (4,3), (4,4) and the missing (7,3), (7,4). Used when the spec package is not importable.
_GAP = {(4, 3), (4, 4), (7, 3), (7, 4)}
DEFAULT_QPES = [(x, y) for x in range(1, 8) for y in range(1, 7) if (x, y) not in _GAP]


def _qpe_coords() -> list[tuple[int, int]]:
    try:
        from s2sim.spec import load_spec

        return [tuple(int(v) for v in c) for c in load_spec().organisation.qpe_coords]
    except Exception:  # noqa: BLE001 - spec not built/loadable: fall back to the published map
        return DEFAULT_QPES


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    # no Software/date metadata: the same report gives byte-identical PNGs
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    _plt().close(fig)
    write_bytes_atomic(path, buf.getvalue())


def chip_map(report: Report, path: Path) -> None:
    plt = _plt()
    qpes = _qpe_coords()
    nx = max(q[0] for q in qpes) + 1
    ny = max(q[1] for q in qpes) + 1
    step = report.workload.step_name
    n_steps = max(report.workload.n_steps, 1)
    fields = [
        ("energy_j", f"PE energy per {step} (uJ)", 1e6 / n_steps),
        ("busy_fraction", "busy fraction", 1.0),
        ("sram_bytes", "SRAM used per PE (KiB)", 1 / 1024),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.4))
    rows = {r.pe_id: r for r in report.per_pe}
    for ax, (field, title, scale) in zip(axes, fields, strict=True):
        grid = np.full((2 * ny, 2 * nx), np.nan)
        for r in rows.values():
            v = float(getattr(r, field)) * scale
            grid[2 * r.qy + r.pe_in_qpe // 2, 2 * r.qx + r.pe_in_qpe % 2] = v
        # existing QPEs are grey underneath; used PEs are painted over them; positions without
        # a QPE (router gap, missing corner) stay white
        for qx, qy in qpes:
            ax.add_patch(plt.Rectangle((2 * qx, 2 * qy), 2, 2, fc="#dddddd", ec="none", zorder=0))
        cmap = plt.get_cmap("viridis").with_extremes(bad=(0, 0, 0, 0))
        vmax = float(np.nanmax(grid)) if np.isfinite(grid).any() else 1.0
        im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", cmap=cmap, vmin=0.0,
                       vmax=vmax or 1.0, extent=(0, 2 * nx, 0, 2 * ny), zorder=1)
        for r in rows.values():  # PE id and the slices it holds
            x, y = 2 * r.qx + r.pe_in_qpe % 2 + 0.5, 2 * r.qy + r.pe_in_qpe // 2 + 0.5
            v = grid[int(y), int(x)]
            ax.text(x, y, f"{r.pe_id}\n{r.slices.replace('+', chr(10))}", ha="center",
                    va="center", fontsize=4.5, zorder=3,
                    color="black" if v > 0.6 * (vmax or 1.0) else "white")
        for qx, qy in qpes:  # outline each QPE (2 x 2 PEs)
            ax.add_patch(plt.Rectangle((2 * qx, 2 * qy), 2, 2, fill=False, lw=1.2, ec="black",
                                       zorder=2))
        ax.text(2 * 4 + 1, 2 * 4, "router", ha="center", va="center", fontsize=7, rotation=90)
        ax.set_xlim(2, 2 * nx)
        ax.set_ylim(2, 2 * ny)
        ax.set_xticks([2 * x + 1 for x in range(1, nx)], [str(x) for x in range(1, nx)])
        ax.set_yticks([2 * y + 1 for y in range(1, ny)], [str(y) for y in range(1, ny)])
        ax.set_xlabel("qx")
        ax.set_ylabel("qy")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(f"{report.workload.model_name}: {len(rows)} PEs used (grey: unused; each PE: "
                 f"its id and slices; PE energy excludes the chip floor, NoC and router)")
    fig.tight_layout()
    _save(fig, path)


def latency_per_step(report: Report, path: Path) -> None:
    """Per step: the latency in ticks of the step period (a pipeline of N ticks is flat at
    about N periods), the traffic, and the energy of each tick with the steady-state mean
    (the pipeline fill and drain stand apart)."""
    plt = _plt()
    fig, axes = plt.subplots(3, 1, figsize=(9, 7.2), sharex=True)
    rows, s2, step = report.per_step, report.s2, report.workload.step_name
    steps = [r.step for r in rows]
    period = s2.step_period_s if s2 is not None and s2.step_period_s else None
    # a step whose output never reached the host has no latency: a gap in the line
    lat_us = [float("nan") if r.latency_s is None else r.latency_s * 1e6 for r in rows]
    ax = axes[0]
    ax.plot(steps, lat_us, lw=1.0, color="tab:blue", label="latency")
    if period is not None:
        top = max([v for v in lat_us if v == v] + [period * 1e6])
        for k in range(1, int(top / (period * 1e6)) + 1):
            ax.axhline(k * period * 1e6, color="grey", ls=":", lw=0.6)
        ax.axhline(period * 1e6, color="grey", ls="--", lw=0.8,
                   label=f"step period {period * 1e6:.0f} us (dotted: multiples)")
        ax.set_title(f"latency per {step}: {s2.latency_per_step_mean_s / period:.2f} step periods "
                     f"on average (pipeline fill {s2.pipeline_fill_ticks} ticks)", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("latency (us)")
    ax.legend(loc="lower right", fontsize=7)
    ax = axes[1]
    ax.plot(steps, [r.events for r in rows], lw=0.8, label="events")
    ax.plot(steps, [r.packets for r in rows], lw=0.8, label="packets")
    if all(r.hops is not None for r in rows):  # a machine run has no per-step hops
        ax.plot(steps, [r.hops / 10 for r in rows], lw=0.8, label="hops / 10")
    ax.set_ylim(bottom=0)
    ax.set_ylabel(f"per {step}")
    ax.legend(loc="lower right", fontsize=7, ncol=3)
    ax = axes[2]
    tick_uj = [float("nan") if r.tick_energy_j is None else r.tick_energy_j * 1e6 for r in rows]
    ax.plot(steps, tick_uj, lw=0.8, color="tab:green", label="energy of the tick")
    if s2 is not None and s2.energy_per_step_steady_j is not None:
        ax.axhline(s2.energy_per_step_steady_j * 1e6, color="tab:red", ls="--", lw=0.8,
                   label=f"steady state {s2.energy_per_step_steady_j * 1e6:.3g} uJ "
                         f"(mean over all {step}s {s2.energy_per_step_j * 1e6:.3g} uJ)")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("energy per tick (uJ)")
    ax.set_xlabel(step)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def energy_by_component(report: Report, path: Path) -> None:
    """Horizontal bars on a log scale, each labelled with its value and share; components with
    no energy are left out (named in the title)."""
    plt = _plt()
    comp = report.s2.energy_by_component_per_step_j if report.s2 else {}
    items = sorted(((k, v) for k, v in comp.items() if v > 0), key=lambda kv: kv[1])
    empty = sorted(k for k, v in comp.items() if v <= 0)
    total = sum(v for _, v in items) or 1.0
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(items) + 1.8))
    vals = [v * 1e6 for _, v in items]
    ax.barh([k for k, _ in items], vals, color="tab:green")
    ax.set_xscale("log")
    for i, (_, v) in enumerate(items):
        ax.text(v * 1e6 * 1.1, i, f"{_fmt_si(v, 'J')} ({100 * v / total:.2g} %)", va="center",
                fontsize=8)
    if vals:
        ax.set_xlim(min(vals) / 3, max(vals) * 30)
    ax.set_xlabel(f"energy per {report.workload.step_name} (uJ, log scale)")
    ax.set_title(f"S2 energy by component: {_fmt_si(total, 'J')} per {report.workload.step_name}"
                 + (f"\n(no energy: {', '.join(empty)})" if empty else ""), fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _fmt_si(v: float, unit: str) -> str:
    for f, p in ((1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")):
        if abs(v) >= f:
            return f"{v / f:.3g} {p}{unit}"
    return f"{v:.3g} {unit}"


def energy_vs_latency(report: Report, path: Path) -> None:
    """The trade-off: energy against latency per step, log-log; S2 and each GPU row (with its
    band as error bars), each GPU labelled with its energy and latency ratio to S2."""
    plt = _plt()
    names, energy, latency, e_band, t_band = _gpu_bars(report)
    fig, ax = plt.subplots(figsize=(12, 6))
    s2e = report.s2.energy_per_step_j if report.s2 else None
    s2t = report.s2.latency_per_step_mean_s if report.s2 else None
    markers = "osD^vP<>Xhp"
    for i, (n, e, t, eb, tb) in enumerate(zip(names, energy, latency, e_band, t_band,
                                              strict=True)):
        s2 = n == "SpiNNaker2"
        color = "tab:green" if s2 else ("tab:blue" if "graph" in n else "tab:gray")
        label = n.replace("\n", " ")
        if not s2 and s2e and s2t:  # the ratios in the legend: the points crowd each other
            label += f": {e / s2e:.3g}x energy, {t / s2t:.3g}x latency"
        ax.errorbar([t], [e], xerr=[[t - tb[0]], [tb[1] - t]], yerr=[[e - eb[0]], [eb[1] - e]],
                    fmt="*" if s2 else markers[(i // 2) % len(markers)], ms=14 if s2 else 7,
                    color=color, capsize=2, lw=0.8, label=label)
        if s2:
            ax.annotate("SpiNNaker2", (t, e), textcoords="offset points", xytext=(8, 6),
                        fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="GPU / S2 per step", title_fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    step = report.workload.step_name
    ax.set_xlabel(f"latency per {step} (s, log)")
    ax.set_ylabel(f"energy per {step} (J, log)")
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    ax.set_title("energy vs latency: SpiNNaker2 (simulated, star) vs GPUs (modelled unless "
                 "marked;\ngrey eager, blue CUDA graph; bars: model band); ratios are GPU / S2",
                 fontsize=9)
    ax.margins(0.25)
    fig.tight_layout()
    _save(fig, path)


def plot_diff(old: Report, new: Report, path, names: tuple[str, str] = ("old", "new")) -> Path:
    """Two reports side by side: energy by component, latency, traffic and per-layer energy
    per step (``s2sim diff OLD NEW --plot PNG``)."""
    from s2sim.output import output_file

    plt = _plt()
    path = output_file(str(path))
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.4))
    step = old.workload.step_name
    reps = [r.s2 for r in (old, new)]
    panels = [
        ("energy by component (uJ, log)",
         lambda s: {k: v * 1e6 for k, v in s.energy_by_component_per_step_j.items()}, True),
        ("latency and period (us)", lambda s: {"latency": s.latency_per_step_mean_s * 1e6,
                                               "step period": s.step_period_s * 1e6}, False),
        ("traffic", lambda s: {"events": s.events_per_step_mean, "packets":
                               s.packets_per_step_mean, "hops / 10": s.hops_per_step_mean / 10},
         False),
        ("PE energy by layer (uJ)", lambda s: {k: p.energy_per_step_j * 1e6
                                               for k, p in s.by_layer.items()}, False),
    ]
    for ax, (title, get, log) in zip(axes, panels, strict=True):
        vals = [get(s) if s is not None else {} for s in reps]
        keys = [k for k in dict.fromkeys([*vals[0], *vals[1]])
                if vals[0].get(k, 0) > 0 or vals[1].get(k, 0) > 0]
        x = np.arange(len(keys))
        for i, (v, lab, c) in enumerate(zip(vals, names, ("tab:gray", "tab:orange"), strict=True)):
            ax.bar(x + (i - 0.5) * 0.4, [v.get(k, 0) for k in keys], 0.4, label=Path(lab).name or
                   lab, color=c)
        for j, k in enumerate(keys):
            a, b = vals[0].get(k, 0), vals[1].get(k, 0)
            if a:
                rel = 100 * (b - a) / a
                ax.annotate(f"{rel:+.2f}%" if abs(rel) >= 0.005 else "0%", (j, max(a, b)),
                            ha="center", va="bottom", fontsize=7, textcoords="offset points",
                            xytext=(0, 2))
        if log:
            ax.set_yscale("log")
        ax.set_xticks(x, keys, rotation=30, ha="right", fontsize=7)
        ax.set_title(f"{title} per {step}", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"{names[0]} vs {names[1]} (labels: change of new vs old)", fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    return path


def _gpu_bars(report: Report):
    """Names, central values and (low, high) bands of the bars: S2 first, then each GPU row."""
    names, energy, latency = [], [], []
    e_band, t_band = [], []
    if report.s2 is not None:
        names.append("SpiNNaker2")
        energy.append(report.s2.energy_per_step_j)
        latency.append(report.s2.latency_per_step_mean_s)
        e_band.append((energy[-1], energy[-1]))
        t_band.append((latency[-1], latency[-1]))
    for g in report.gpu:
        how = "graph" if "graph" in g.label else "eager"
        kind = "" if g.method == "modelled" else "meas. "  # modelled unless marked
        names.append(f"{g.gpu_key.removesuffix('-graph').removeprefix('measured-')[:10]}"
                     f"\n{kind}{how}")
        energy.append(g.energy_per_token_j)
        latency.append(g.latency_per_token_s)
        e_band.append((_or(g.energy_per_token_low_j, energy[-1]),
                       _or(g.energy_per_token_high_j, energy[-1])))
        t_band.append((_or(g.latency_per_token_low_s, latency[-1]),
                       _or(g.latency_per_token_high_s, latency[-1])))
    return names, energy, latency, e_band, t_band


def _or(v: float | None, default: float) -> float:
    return default if v is None else v


def s2_vs_gpu(report: Report, path: Path) -> None:
    """Bars: S2 and each GPU row (central value); whiskers: the GPU figure's low/high band."""
    plt = _plt()
    names, energy, latency, e_band, t_band = _gpu_bars(report)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(max(11, 1.1 * len(names) + 3), 4.2))
    colors = ["tab:green" if n == "SpiNNaker2" else
              ("tab:blue" if "graph" in n else "tab:gray") for n in names]
    x = np.arange(len(names))
    for ax, vals, band, what in ((a1, energy, e_band, "energy"), (a2, latency, t_band, "latency")):
        vals = np.maximum(np.asarray(vals, dtype=float), 1e-15)
        lo = np.maximum(np.asarray([b[0] for b in band], dtype=float), 1e-15)
        hi = np.maximum(np.asarray([b[1] for b in band], dtype=float), 1e-15)
        ax.bar(x, vals, color=colors)
        has = hi > lo
        if has.any():
            ax.errorbar(x[has], vals[has], yerr=[vals[has] - lo[has], hi[has] - vals[has]],
                        fmt="none", ecolor="black", capsize=3, lw=1, label="model band (low-high)")
            ax.legend(loc="upper left", bbox_to_anchor=(0.08, 1.0), fontsize=7)
        ax.set_yscale("log")
        if names and names[0] == "SpiNNaker2":  # each GPU bar labelled with GPU / S2
            for i in range(1, len(names)):
                ax.text(x[i], hi[i] * 1.15, f"{vals[i] / vals[0]:.3g}x", ha="center",
                        va="bottom", fontsize=7)
            ax.text(x[0], vals[0] * 1.15, _fmt_si(float(vals[0]), "J" if what == "energy"
                                                  else "s"), ha="center", va="bottom",
                    fontsize=7)
            ax.set_ylim(min(lo.min(), vals.min()) / 2, max(hi.max(), vals.max()) * 4)
        unit = "J" if what == "energy" else "s"
        ax.set_ylabel(f"{what} per {report.workload.step_name} ({unit})\n"
                      "(labels: GPU / S2)", fontsize=9)
        ax.set_xticks(x, names)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("SpiNNaker2 (simulated) vs GPU baselines "
                 "(modelled unless marked; grey: eager, blue: CUDA graph)")
    fig.tight_layout()
    _save(fig, path)


PLOTS = {
    "chip_map.png": chip_map,
    "latency_per_step.png": latency_per_step,
    "energy_by_component.png": energy_by_component,
    "s2_vs_gpu.png": s2_vs_gpu,
    "energy_vs_latency.png": energy_vs_latency,
}


def write_plots(report: Report, out_dir: Path) -> list[Path]:
    out = []
    for name, fn in PLOTS.items():
        if name == "chip_map.png" and not report.per_pe:
            continue
        if name == "latency_per_step.png" and not report.per_step:
            continue
        if name == "energy_vs_latency.png" and (report.s2 is None or not report.gpu):
            continue
        if name == "energy_by_component.png" and (report.s2 is None or
                                                 not report.s2.energy_by_component_per_step_j):
            continue
        fn(report, out_dir / name)
        out.append(out_dir / name)
    return out


def pe_timeline(result, mapping, path: Path, n: int = 4) -> bool:
    """Tick by tick, the ``n`` busiest PEs of a run (by active cycles) from the engine's
    ledger (``result.counts``, one column per tick): handler work as a share of the tick's
    cycles, packets sent, packets received, the queue's depth (the most packets waiting at an
    arrival in the tick: the DES's ``queue_peak``; the analytic engine keeps none) and packets
    dropped at a full queue. False (nothing drawn) when the ledger has no per-tick columns (a
    long run binned) or no PE counters."""
    c = getattr(result, "counts", None)
    if c is None or getattr(c, "ticks_per_column", 0) != 1 or "active_cycles" not in c.pe:
        return False
    import numpy as np

    plt = _plt()
    active = np.asarray(c.pe["active_cycles"], float)
    order = [i for i in np.argsort(-active.sum(axis=1), kind="stable") if active[i].sum() > 0][:n]
    if not order:
        return False
    slices = mapping.pe_slices() if hasattr(mapping, "pe_slices") else {}
    per_tick = float(mapping.cycles_per_tick)
    ticks = np.arange(active.shape[1])
    fig, axes = plt.subplots(len(order), 1, figsize=(9, 1.9 * len(order) + 0.8), sharex=True,
                             squeeze=False)
    for ax, i in zip(axes[:, 0], order, strict=True):
        pe = int(c.pe_ids[i])
        ax.fill_between(ticks, active[i] / per_tick, step="mid", alpha=0.35, color="tab:blue",
                        label="handler work (share of the tick)")
        ax.set_ylim(0, max(1.0, float((active[i] / per_tick).max()) * 1.05))
        ax.set_ylabel("work / tick", fontsize=8)
        ax.set_title(f"PE {pe} ({'+'.join(slices.get(pe, [])) or '-'})", fontsize=8, loc="left")
        ax2 = ax.twinx()
        ax2.step(ticks, c.pe["packets_sent"][i], where="mid", lw=0.8, color="tab:orange",
                 label="packets sent")
        ax2.step(ticks, c.pe["packets_received"][i], where="mid", lw=0.8, color="tab:green",
                 label="packets received (queued)")
        peak = np.asarray(c.pe["queue_peak"][i]) if "queue_peak" in c.pe else None
        if peak is not None and peak.any():
            ax2.step(ticks, peak, where="mid", lw=0.8, color="tab:purple",
                     label="queue depth (peak in the tick)")
        drops = np.asarray(c.pe["queue_full"][i])
        if drops.any():
            ax2.plot(ticks[drops > 0], drops[drops > 0], "rx", label="dropped (queue full)")
        ax2.set_ylim(bottom=0)
        ax2.set_ylabel("packets / tick", fontsize=8)
        if ax is axes[0, 0]:
            h1, l1 = ax.get_legend_handles_labels()
            h2, l2 = ax2.get_legend_handles_labels()
            fig.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper center", ncol=3,
                       bbox_to_anchor=(0.5, 0.955), frameon=False)
    axes[-1, 0].set_xlabel(f"tick ({c.tick_period_ps / 1e6:g} us each)")
    fig.suptitle(f"the {len(order)} busiest PEs tick by tick ({result.engine} engine)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    _save(fig, path)
    return True
