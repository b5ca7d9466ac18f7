"""`s2sim chip`: summary of the chip spec (counts, QPE map, SRAM, PLs, power model, estimates).

    s2sim chip                                   # bundled SpiNNaker2
    s2sim chip --spec my_chip.yaml --set performance_levels.1.frequency_hz=350e6 --json
    s2sim chip --machine board48 --json         # + the machine: chips, coordinates, links
"""

from __future__ import annotations

import argparse
import json

from s2sim.spec import ChipSpec, load_spec, parse_set_args, spec_to_data
from s2sim.spec.loader import BUNDLED_LABEL


def add_spec_arguments(p: argparse.ArgumentParser) -> None:
    """--spec / --set, shared by commands that take a chip spec."""
    p.add_argument("--spec", metavar="FILE", default=None,
                   help="chip spec YAML (default: the bundled spinnaker2.yaml)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="override one spec field by dotted path, e.g. "
                        "performance_levels.1.frequency_hz=350e6 (repeatable; tagged USER)")


def spec_from_args(args: argparse.Namespace) -> tuple[ChipSpec, str]:
    spec = load_spec(args.spec, parse_set_args(args.set))
    return spec, (str(args.spec) if args.spec else BUNDLED_LABEL)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "chip", help="show the chip spec: counts, QPE map, SRAM, PLs, power model, estimates",
        description="Summarise a chip spec. Every number carries its source; estimates (EST) "
                    "and overrides (USER) are listed.")
    add_spec_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_machine_argument(p, default=None)
    p.set_defaults(func=run)


def add_machine_argument(p: argparse.ArgumentParser, default: str | None = "chip") -> None:
    """--machine, shared by the commands that compile or describe a machine."""
    from s2sim.spec.machine import MACHINE_NAMES

    p.add_argument("--machine", default=default, metavar="NAME",
                   help=f"the machine: {MACHINE_NAMES}; default: one chip")


def run(args: argparse.Namespace) -> int:
    spec, label = spec_from_args(args)
    machine = None
    if getattr(args, "machine", None):
        from s2sim.spec.machine import load_machine

        machine = load_machine(args.machine, spec)
    if args.json:
        out = summary_json(spec, label)
        if machine is not None:
            out["machine"] = machine.describe()
        print(json_text(out))
    else:
        print(summary_text(spec, label), end="")
        if machine is not None:
            print(machine_text(machine), end="")
    return 0


def machine_text(m) -> str:
    """The machine section of ``s2sim chip --machine NAME``."""
    d = m.describe()
    lp = d["link_parameters"]
    kinds = [r[4] for r in d["links"]["rows"]]

    def v(k, unit):
        return f"{_g(lp[k]['value'], unit)} [{lp[k]['source']}]"

    return "\n".join([
        "", f"Machine {m.name}: {m.n_chips} chip(s) on {m.n_boards} board(s), "
            f"{d['pes']} PEs; Ethernet chip(s) {d['ethernet_chips']}",
        f"  links: {kinds.count('board')} on-board ({v('board_link_bits_per_s', 'b/s')}, "
        f"latency {v('board_link_latency_s', 's')}, {v('board_link_energy_j_per_bit', 'J')}/bit)"
        f", {kinds.count('long-range')} long-range ({v('inter_board_link_bits_per_s', 'b/s')}, "
        f"latency {v('inter_board_link_latency_s', 's')}, "
        f"{v('inter_board_link_energy_j_per_bit', 'J')}/bit); "
        f"{lp['packet_bits']['value']}-bit packets, queue {lp['link_queue_packets']['value']} "
        f"packets per link"]) + "\n"


# ---------------------------------------------------------------------------------------------


def json_text(obj) -> str:
    """Indented JSON with lists of numbers (and of coordinate pairs) kept on one line."""
    return _json(obj, 0)


def _flat(obj) -> bool:
    return all(not isinstance(x, dict | list) or
               (isinstance(x, list) and all(not isinstance(y, dict | list) for y in x))
               for x in obj)


def _json(obj, level: int) -> str:
    pad = "  " * (level + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{pad}{json.dumps(str(k))}: {_json(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(obj, list) and obj and not _flat(obj):
        items = [f"{pad}{_json(v, level + 1)}" for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + "  " * level + "]"
    return json.dumps(obj)


def _pl_derived(spec: ChipSpec) -> list[dict]:
    """Per PL: the busy-PE power and the chip totals the per-PE model implies."""
    n = spec.organisation.application_pes.value
    floor = spec.power.chip_off_power_w.value
    out = []
    for pl in spec.performance_levels:
        sleep = pl.pe_sleep_power_w.value
        busy = sleep + pl.pe_active_energy_j_per_cycle.value * pl.frequency_hz.value
        out.append({"pe_busy_power_w": busy,
                    "chip_all_asleep_power_w": floor + n * sleep,
                    "chip_all_busy_power_w": floor + n * busy})
    return out


def summary_json(spec: ChipSpec, label: str) -> dict:
    org, mem = spec.organisation, spec.memory
    pls = []
    for pl, d in zip(spec.performance_levels, _pl_derived(spec), strict=True):
        pls.append({
            "name": pl.name,
            "voltage_v": pl.voltage_v.value,
            "frequency_hz": pl.frequency_hz.value,
            "pe_sleep_power_w": pl.pe_sleep_power_w.value,
            "pe_active_energy_j_per_cycle": pl.pe_active_energy_j_per_cycle.value,
            "mla_energy_j_per_mac": pl.mla_energy_j_per_mac.value,
            **d,
        })
    return {
        "spec_file": label,
        "name": spec.name,
        "pes": len(spec.pe_ids()),
        "qpes": len(spec.qpes()),
        "pes_per_qpe": org.pes_per_qpe.value,
        "usable_pes": org.usable_pes.value,
        "qpe_coords": [list(c) for c in spec.qpes()],
        "pe_ids": spec.pe_ids(),
        "router_position": list(org.router_position.value),
        "bridge_qpe": list(spec.host.bridge_qpe.value),
        "sram_bytes_per_pe": mem.sram_bytes_per_pe.value,
        "code_sram_bytes": mem.code_sram_bytes.value,
        "data_sram_bytes": mem.data_sram_bytes.value,
        "stack_heap_bytes": mem.stack_heap_bytes.value,
        "performance_levels": pls,
        "estimates": [{"path": p, "value": v, "note": n} for p, v, n in spec.estimates()],
        "overrides": [{"path": p, "value": v, "note": n} for p, v, n in spec.overridden()],
        "spec": spec_to_data(spec),
    }


def qpe_map(spec: ChipSpec) -> list[str]:
    """ASCII map of the QPE mesh, qy growing upwards: Q = QPE, R = router, E = Ethernet bridge."""
    coords = {tuple(c) for c in spec.organisation.qpe_coords.value}
    router = tuple(spec.organisation.router_position.value)
    bridge = tuple(spec.host.bridge_qpe.value)
    xs = [c[0] for c in coords | {router}]
    ys = [c[1] for c in coords | {router}]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    lines = ["     qx " + "".join(f"{x:>3}" for x in range(x0, x1 + 1))]
    for y in range(y1, y0 - 1, -1):
        cells = []
        for x in range(x0, x1 + 1):
            if (x, y) == bridge:
                cells.append("E")
            elif (x, y) in coords:
                cells.append("Q")
            elif (x, y) == router:
                cells.append("R")
            else:
                cells.append(".")
        lines.append(f"  qy {y:>2} " + "".join(f"{c:>3}" for c in cells))
    lines.append("  Q = QPE (4 PEs), E = QPE with the Ethernet bridge, R = event router, "
                 ". = no QPE")
    return lines


def _g(v: float, unit: str = "") -> str:
    """Compact, deterministic number with an SI prefix."""
    if v == 0:
        return f"0 {unit}".rstrip()
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"),
                           (1e-6, "u"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")):
        if abs(v) >= factor:
            return f"{v / factor:.4g} {prefix}{unit}".rstrip()
    return f"{v:.4g} {unit}".rstrip()


def _tag(s) -> str:
    return f"[{s.source}]"


def summary_text(spec: ChipSpec, label: str) -> str:
    org, mem, noc, rt = spec.organisation, spec.memory, spec.noc, spec.router
    acc, cyc, tim, pw = spec.accelerators, spec.cpu.cycles, spec.timing, spec.power
    n_pes, n_qpes = len(spec.pe_ids()), len(spec.qpes())
    out: list[str] = [f"{spec.name} chip spec: {label}", ""]
    out.append(f"PEs: {n_pes} application PEs in {n_qpes} QPEs x {org.pes_per_qpe.value} "
               f"{_tag(org.application_pes)}; {org.usable_pes.value} usable by applications "
               f"{_tag(org.usable_pes)}; {org.management_pes.value} management PE")
    out.append(f"PE ids: (qx << 5) | (qy << 2) | p, {min(spec.pe_ids())}..{max(spec.pe_ids())}")
    out.append("")
    out.append("QPE grid:")
    out.extend(qpe_map(spec))
    out.append("")
    kib = 1024
    free = mem.sram_bytes_per_pe.value - mem.code_sram_bytes.value - mem.data_sram_bytes.value
    total = mem.sram_bytes_per_pe.value
    out.append(f"SRAM per PE: {total} B ({total / kib:g} KiB, {mem.sram_banks.value} banks) "
               f"{_tag(mem.sram_bytes_per_pe)}")
    out.append(f"  code {mem.code_sram_bytes.value / kib:g} KiB + data "
               f"{mem.data_sram_bytes.value / kib:g} KiB (of which stack+heap "
               f"{mem.stack_heap_bytes.value / kib:g} KiB), unassigned {free / kib:g} KiB; "
               f"alignment {mem.sram_alignment_bytes.value} B {_tag(mem.sram_alignment_bytes)}")
    out.append(f"DRAM: {mem.dram_bytes.value / kib**3:g} GiB at "
               f"{_g(mem.dram_bandwidth_bytes_per_s.value, 'B/s')} {_tag(mem.dram_bytes)}")
    out.append("")
    out.append("Performance levels (chip totals from the per-PE model, all PEs asleep / busy):")
    out.append("  name    V       f     sleep/PE  active/cycle  MLA/MAC     asleep     busy")
    for pl, d in zip(spec.performance_levels, _pl_derived(spec), strict=True):
        out.append(
            f"  {pl.name:<5} {pl.voltage_v.value:>5.2f} {_g(pl.frequency_hz.value, 'Hz'):>9} "
            f"{_g(pl.pe_sleep_power_w.value, 'W'):>9} "
            f"{_g(pl.pe_active_energy_j_per_cycle.value, 'J'):>12}"
            f"  {_g(pl.mla_energy_j_per_mac.value, 'J'):>9} "
            f"{_g(d['chip_all_asleep_power_w'], 'W'):>10} {_g(d['chip_all_busy_power_w'], 'W'):>9}")
    out.append(f"  PL switch: {_g(tim.pl_switch_s.value, 's')} {_tag(tim.pl_switch_s)}, "
               f"{_g(pw.pl_switch_energy_j.value, 'J')} {_tag(pw.pl_switch_energy_j)}")
    out.append("")
    out.append("Power model:")
    out.append(f"  chip floor (all PEs off) {_g(pw.chip_off_power_w.value, 'W')} "
               f"{_tag(pw.chip_off_power_w)}; per PE: sleep power while powered + active "
               "energy per cycle + MLA energy per MAC (per PL, above)")
    out.append(f"  NoC {_g(pw.noc_energy_j_per_hop.value, 'J')}/hop "
               f"{_tag(pw.noc_energy_j_per_hop)}, router "
               f"{_g(pw.router_energy_j_per_packet.value, 'J')}/packet "
               f"{_tag(pw.router_energy_j_per_packet)}, DRAM "
               f"{_g(pw.dram_energy_j_per_byte.value, 'J')}/B {_tag(pw.dram_energy_j_per_byte)}, "
               f"SRAM (DMA) {_g(pw.sram_energy_j_per_byte.value, 'J')}/B "
               f"{_tag(pw.sram_energy_j_per_byte)}")
    out.append("")
    hop_s = noc.cycles_per_hop.value / noc.frequency_hz.value
    out.append(f"NoC: 2-D mesh, XY routing, {_g(noc.frequency_hz.value, 'Hz')}, "
               f"{noc.cycles_per_hop.value} cycles/hop ({_g(hop_s, 's')}), "
               f"{noc.flit_bits.value}-bit flits, payload <= {noc.max_payload_bits.value} bit, "
               f"{noc.link_flits_per_cycle.value} flit/cycle/link {_tag(noc.link_flits_per_cycle)}")
    out.append(f"Router: {rt.table_entries.value} key/mask entries (first match), "
               f"{_g(rt.frequency_hz.value, 'Hz')}, {rt.pipeline_stages.value}-stage pipeline, "
               f"{rt.routing_engines.value} engines, at mesh node "
               f"{tuple(org.router_position.value)}")
    lk, host = spec.links, spec.host
    out.append(f"Links: {lk.chip_links.value} chip links, "
               f"{_g(lk.board_link_bits_per_s.value, 'b/s')} on board / "
               f"{_g(lk.inter_board_link_bits_per_s.value, 'b/s')} between boards; "
               f"host Ethernet {_g(host.ethernet_bits_per_s.value, 'b/s')} via bridge QPE "
               f"{tuple(host.bridge_qpe.value)} {_tag(host.bridge_qpe)}, "
               f"{_g(host.per_packet_overhead_s.value, 's')}/packet")
    out.append(f"Timing: tick {_g(tim.tick_period_s.value, 's')}, packet queue depth "
               f"{tim.packet_queue_depth.value} {_tag(tim.packet_queue_depth)}")
    out.append(f"Accelerators: MLA {acc.mla_macs_per_cycle.value} MAC/cycle "
               f"({acc.mla_matvec_macs_per_cycle.value} on mat-vec), exp {acc.exp_cycles.value} / "
               f"log {acc.log_cycles.value} cycles (driver exp {acc.exp_driver_cycles.value}), "
               f"DMA {acc.dma_bytes_per_cycle.value} B/NoC cycle + {acc.dma_setup_cycles.value} "
               f"setup cycles {_tag(acc.dma_bytes_per_cycle)}")
    out.append("Cortex-M4F cycles: " + ", ".join(
        f"{name} {getattr(cyc, name).value}" for name in type(cyc).model_fields))
    out.append("")
    est = spec.estimates()
    out.append(f"Estimates (EST, not published; {len(est)} of {len(spec.leaves())} numbers):")
    for path, value, note in est:
        out.append(f"  {path} = {_fmt_value(value)}  -- {note}")
    user = spec.overridden()
    if user:
        out.append("")
        out.append(f"Overrides (USER, {len(user)}):")
        for path, value, note in user:
            out.append(f"  {path} = {_fmt_value(value)}  -- {note}")
    return "\n".join(out) + "\n"


def _fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    return str(v)
