"""The DES of a network compiled onto several chips (``s2sim.compiler.machine_map``).

    from s2sim.engine.machine_des import run_machine_des
    res = run_machine_des(mm, tokens)      # MachineRunResult: per chip, per link, mismatches

Every used chip is a ``s2sim.hw.Chip`` with its slices' programs (the kinds' own, built from the
machine's one ``Mapping`` over global PE ids) and its own routing table (local PEs and links);
``s2sim.hw.machine.MachineSim`` joins them by their links in one SimPy run. The host's packets
enter at the Ethernet chip (where the input source and the readout are placed) and the readout's
messages leave there. Functional equivalence is checked as on one chip: every layer's events
against the numpy reference. Alongside, the link traffic is counted analytically from the
reference's events on the same multicast trees (``analytic_link_traffic``): with no drops the
DES's link packets must equal it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from firmware_py.kinds import cost_model_for, kind_of
from firmware_py.kinds.base import BuildContext
from firmware_py.pipeline import run_ticks
from s2sim.compiler.machine_map import split_global_pe
from s2sim.engine.common import PreparedRun, activity_metrics, slice_events
from s2sim.engine.result import Mismatches, RunResult
from s2sim.hw.dvfs import cycles_to_ps

__all__ = ["MachineRunResult", "run_machine_des", "analytic_link_traffic", "prepared_run",
           "as_run_result"]


@dataclass
class MachineRunResult:
    n_steps: int
    tick_s: float
    chips: list[dict]  # per used chip: chip, pes, energy_j, busy_fraction, packets, components
    links: list[dict]  # per used directed link: packets, dropped, bits, utilisation, energy_j
    components_j: dict[str, float]
    energy_j: float
    latency_ps: np.ndarray  # (T,) host-side latency per token (-1: missing)
    event_mismatches: int
    per_layer_event_mismatches: list[int]
    analytic_links: dict  # link packets, bits, hops counted from the reference's events
    meta: dict = field(default_factory=dict)
    # per layer (T, H_l): the outputs the chips' slices logged (``as_run_result`` compares them
    # with the reference, values included); not in ``to_json``
    layer_outputs: list = field(default_factory=list, repr=False)

    @property
    def link_packets(self) -> int:
        return int(sum(r["packets"] for r in self.links))

    @property
    def link_dropped(self) -> int:
        return int(sum(r["dropped"] for r in self.links))

    def energy_per_token_j(self) -> float:
        return self.energy_j / max(self.n_steps, 1)

    def mean_latency_s(self) -> float:
        ok = self.latency_ps[self.latency_ps >= 0]
        return float(ok.mean()) / 1e12 if ok.size else float("nan")

    def report(self) -> str:
        out = [f"machine run: {self.n_steps} tokens on {len(self.chips)} chip(s); "
               f"{self.energy_j * 1e3:.3f} mJ ({self.energy_per_token_j() * 1e6:.1f} uJ per "
               f"token), mean latency {self.mean_latency_s() * 1e3:.3f} ms per token",
               f"event mismatches vs the reference: {self.event_mismatches} "
               f"(per layer {self.per_layer_event_mismatches}); missing host outputs "
               f"{self.meta.get('missing_host_outputs', 0)}", "",
               "chip   PEs   energy_mJ  uJ/token  busy_fraction  NoC_packets  link_packets_out"]
        for c in self.chips:
            out.append(f"{c['chip']:>4}  {c['pes']:>4}  {c['energy_j'] * 1e3:>10.4f}  "
                       f"{c['energy_j'] * 1e6 / max(self.n_steps, 1):>8.2f}  "
                       f"{c['busy_fraction']:>13.4f}  {c['noc_packets']:>11}  "
                       f"{c['link_packets_out']:>16}")
        a = self.analytic_links
        out += ["", f"links: {self.link_packets} packets ({self.link_packets * 96 / 8e6:.3f} MB), "
                f"{self.link_dropped} dropped; analytic count on the same routes: "
                f"{a['packets']} packets, {a['bits']} bits, {a['hops']} chip hops",
                "chip link -> chip   packets  dropped  utilisation  energy_uJ"]
        for r in self.links:
            out.append(f"{r['chip']:>4} {r['link']:>4} -> {r['to']:>4}  {r['packets']:>8}  "
                       f"{r['dropped']:>7}  {100 * r['utilisation']:>10.3f} %  "
                       f"{r['energy_j'] * 1e6:>9.3f}")
        out += ["", "energy by component (all chips):"]
        for k, v in self.components_j.items():
            out.append(f"  {k:<12} {v * 1e3:>12.6f} mJ  {v / (self.energy_j or 1):>6.1%}")
        return "\n".join(out)

    def to_json(self) -> dict:
        return {"n_steps": self.n_steps, "tick_s": self.tick_s, "chips": self.chips,
                "links": self.links, "components_j": self.components_j,
                "energy_j": self.energy_j, "energy_per_token_j": self.energy_per_token_j(),
                "mean_latency_s": self.mean_latency_s(),
                "latency_ps": self.latency_ps.tolist(),
                "event_mismatches": self.event_mismatches,
                "per_layer_event_mismatches": self.per_layer_event_mismatches,
                "link_packets": self.link_packets, "link_dropped": self.link_dropped,
                "analytic_links": self.analytic_links, "meta": self.meta}


def prepared_run(mm, tokens) -> PreparedRun:
    net = mm.network
    return PreparedRun(mapping=mm.mapping, network=net, spec=mm.spec,
                       tokens=np.asarray(tokens, np.int64), embedding=net.input.embedding)


def analytic_link_traffic(mm, run: PreparedRun, ys=None) -> dict:
    """Link packets, bits and chip hops of the run, counted from the reference's events (each
    sending slice's events cross every edge of its key's multicast tree once)."""
    ys = run.oracle().ys if ys is None else ys
    _, in_events, *_ = activity_metrics(run, ys)
    sent = {sid: int(ev.sum()) for sid, ev in slice_events(mm.mapping, ys).items()}
    sent["input"] = int(in_events.sum())
    per_link = defaultdict(int)
    sender = {s.key_base: s.id for s in mm.slices if s.key_base is not None}
    for r in mm.uncompressed:
        sid = sender.get(r.key)
        for e in mm.trees.get(r.key, ()) if sid is not None else ():
            per_link[e] += sent.get(sid, 0)
    pk = int(sum(per_link.values()))
    return {"packets": pk, "bits": pk * mm.machine.packet_bits, "hops": pk,
            "per_link": {f"{c}:{d}": v for (c, d), v in sorted(per_link.items())}}


def _programs(mm, run: PreparedRun):
    from firmware_py.composite import CompositeProgram

    m = mm.mapping
    ctx = BuildContext(mapping=m, network=run.network, spec=run.spec,
                       cost=cost_model_for(m, run.spec), n_steps=run.n_steps)
    progs = {s.id: kind_of(s).program(ctx, s) for s in m.slices}
    per_pe = {}
    for pe, sids in m.pe_slices().items():
        per_pe[pe] = progs[sids[0]] if len(sids) == 1 else CompositeProgram(
            [(sid, progs[sid]) for sid in sids], ctx.cost)
    return per_pe, progs


def host_offset_ps(mm) -> int:
    """When in tick interval t the host sends step t's packets: after the input source's tick
    handler (which scans the frame and does not take packets meanwhile), so that a wide input's
    packets (width x2: 375 per step) do not fill its 256-packet queue while it scans. The host
    protocol allows any time within the interval (``firmware_py.kinds.input_source``)."""
    inp = next(s for s in mm.slices if s.kind == "input")
    irq = int(mm.spec.cpu.cycles.irq_entry.value) + int(mm.spec.cpu.cycles.irq_exit.value)
    f = float(mm.spec.pl(mm.pl).frequency_hz.value)
    return int(np.ceil((int(inp.tick_cycles_max) + irq) / f * 1e12))


def host_pacing(mm) -> tuple[int, int]:
    """(burst, gap_ps): the host sends a step's first ``burst`` packets back to back and each
    further one ``gap_ps`` (the input source's handling time of a host packet) after the one
    ``burst`` places before it, so that the input PE's packet queue holds at most about half its
    depth. Host-side flow control, used only when a step's packets sent back to back would fill
    the queue (width x4: 750 per step; the PE drains a packet in ~2.5 Ethernet packet times);
    burst = 0 when not needed (width x1, x2: sent as on one chip)."""
    from firmware_py.kinds.input_source import HOST_VALUES_PER_PACKET

    spec = mm.spec
    n = -(-mm.mapping.n_in // HOST_VALUES_PER_PACKET)
    depth = int(spec.timing.packet_queue_depth.value)
    cm = cost_model_for(mm.mapping, spec)
    cycles = (cm.c("input_packet") + HOST_VALUES_PER_PACKET * cm.c("input_value")
              + int(spec.cpu.cycles.irq_entry.value) + int(spec.cpu.cycles.irq_exit.value))
    gap = cycles_to_ps(cycles, float(spec.pl(mm.pl).frequency_hz.value))
    # the Ethernet bridge serialises key + payload; its per-packet overhead is latency only
    ser = int(np.ceil(8 * (4 + 4 * HOST_VALUES_PER_PACKET) * 1e12
                      / float(spec.host.ethernet_bits_per_s.value)))
    backlog = n - n * min(ser, gap) / gap  # still queued when the last packet arrives
    return (depth // 2, gap) if backlog >= depth else (0, gap)


def _inject_inputs(chip, run: PreparedRun, P: int, offset_ps: int, pacing=(0, 0)) -> int:
    """Each step's host packets at t·tick + ``offset_ps`` (paced by ``host_pacing`` when it says
    so); returns how many were injected."""
    from firmware_py.kinds.input_source import host_packet_groups, host_packets

    burst, gap = pacing
    n_pk = 0
    for t, groups in enumerate(host_packet_groups(run.xs)):
        keys, payloads = host_packets(t, groups)
        if not keys.size:
            continue
        t0 = t * P + offset_ps
        if burst and keys.size > burst:
            chip.inject(t0, keys[:burst], payloads[:burst])
            for i in range(burst, keys.size):
                chip.inject(t0 + (i - burst + 1) * gap, keys[i:i + 1], payloads[i:i + 1])
        else:
            chip.inject(t0, keys, payloads)
        n_pk += keys.size
    return n_pk


def run_machine_des(mm, tokens) -> MachineRunResult:
    from s2sim.engine.des import _host_outputs, _layer_outputs
    from s2sim.hw.chip import Chip
    from s2sim.hw.energy import price
    from s2sim.hw.machine import MachineSim

    run = prepared_run(mm, tokens)
    spec, m = run.spec, mm.mapping
    T, L = run.n_steps, m.n_layers
    chips = {p.chip: Chip(spec) for p in mm.parts}
    per_pe, progs = _programs(mm, run)
    for g, prog in per_pe.items():
        c, pe = split_global_pe(g)
        chips[c].load(pe, prog, pl=m.pl)
    for p in mm.parts:
        for key, mask, pes, links, _src in p.routes:
            chips[p.chip].router.add(key, mask, pes=set(pes), links=set(links))
    eth = mm.chip_of_slice["input"]
    P = int(chips[eth].tick_period_ps)
    n_host = _inject_inputs(chips[eth], run, P, host_offset_ps(mm), host_pacing(mm))
    sim = MachineSim(mm.machine, chips)
    n_ticks = run_ticks(T, L, False)
    runs = sim.run(n_ticks)
    ys, late, unsent = _layer_outputs(run, progs)
    _, _, latency, bytes_from_chip, _ = _host_outputs(run, runs[eth].host_rx, P)
    ref = run.oracle().ys
    per_layer = [int(((a != 0) != (b != 0)).sum()) for a, b in zip(ys, ref, strict=True)]
    duration = max(int(r.counts.duration_ps) for r in runs.values())
    links = sim.link_summary(duration)
    link_e = defaultdict(float)
    for r in links:
        link_e[r["chip"]] += r["energy_j"]
    chip_rows, comps = [], defaultdict(float)
    for p in mm.parts:
        counts = runs[p.chip].counts
        e = price(counts, spec)
        cj = dict(e.components_j)
        cj["chip_links"] = link_e[p.chip]  # each link at its own energy per bit (machine)
        for k, v in cj.items():
            comps[k] += v
        rows = [counts.pe_ids.index(pe) for pe in sorted(p.placement.values())]
        active = float(counts.pe["active_ps"][rows].sum())
        chip_rows.append({
            "chip": p.chip, "pes": p.pes, "energy_j": float(sum(cj.values())),
            "busy_fraction": active / (len(rows) * max(int(counts.duration_ps), 1)),
            "noc_packets": int(counts.total("packets")),
            "link_packets_out": int(sum(r["packets"] for r in links if r["chip"] == p.chip)),
            "table_entries": p.table_entries, "components_j": cj})
    return MachineRunResult(
        n_steps=T, tick_s=mm.tick_s, chips=chip_rows, links=links, components_j=dict(comps),
        energy_j=float(sum(comps.values())), latency_ps=latency,
        event_mismatches=int(sum(per_layer)), per_layer_event_mismatches=per_layer,
        analytic_links=analytic_link_traffic(mm, run), layer_outputs=ys,
        meta={"late_packets": late, "host_packets": n_host, "duration_ps": duration,
              "bytes_from_chip": int(bytes_from_chip),
              "noc_hops": int(sum(int(r.counts.total("hops")) for r in runs.values())),
              "host_offset_ps": host_offset_ps(mm), "unsent_events": unsent, "n_ticks": n_ticks,
              "missing_host_outputs": int((latency < 0).sum()),
              "undelivered": int(sum(int(r.counts.undelivered) for r in runs.values())),
              "queue_full": int(sum(int(r.counts.pe["queue_full"].sum()) for r in runs.values())),
              "tick_overruns": int(sum(int(r.counts.pe["tick_overruns"].sum())
                                       for r in runs.values()))})


def as_run_result(mm, res: MachineRunResult, tokens) -> RunResult:
    """The machine run as the ``RunResult`` every engine returns, so that its report is built as
    a chip's is (``s2sim.report.build``): activity, multicast packets per step and host work from
    the chips' layer outputs as on one chip, the outputs compared with the reference (events and
    values), time, energy (by component, the links' own included) and checks from the machine.
    Not kept: per-PE counters and per-step NoC hops (``meta["noc_hops_total"]``: the chips' NoC
    counters over the run; one chip's hop geometry does not hold across chips)."""
    from s2sim.engine.common import compare_with_oracle, host_link, packets_and_hops
    from s2sim.engine.functional import host_work

    run = prepared_run(mm, tokens)
    ys = res.layer_outputs
    events, in_events, sparsity, eff, dense = activity_metrics(run, ys)
    pk, _ = packets_and_hops(run, in_events, ys)  # the packets only: hops are the chips' NoCs'
    meta = res.meta
    result = RunResult(
        engine="des", n_steps=res.n_steps, n_layers=len(ys), outputs=ys[-1], layer_outputs=ys,
        events_per_step=events, input_events=in_events, activation_sparsity=sparsity,
        effective_macs_per_step=eff, dense_macs_per_step=dense, latency_ps=res.latency_ps,
        step_period_ps=int(mm.mapping.tick_period_ps), sim_time_ps=int(meta["duration_ps"]),
        packets_per_step=pk, energy={"components_j": dict(res.components_j)},
        energy_j=res.energy_j, mismatches=Mismatches(late_packets=int(meta["late_packets"])),
        dropped_packets=int(meta["queue_full"]) + res.link_dropped,
        tick_overruns=int(meta["tick_overruns"]), undelivered_packets=int(meta["undelivered"]),
        missing_host_outputs=int(meta["missing_host_outputs"]),
        host=host_link(host_work(run, ys[-1]), mm.spec, int(meta["host_packets"]),
                       int(meta["bytes_from_chip"])),
        meta={"noc_hops_total": int(meta["noc_hops"]), "n_ticks": int(meta["n_ticks"])})
    compare_with_oracle(run, result)
    return result
