"""`s2sim bench lm --machine NAME [--chips N]`: the LM on a machine of several chips.

    s2sim bench lm --model paper --width-scale 2 --machine board48 --engine des --tokens 20

The network is compiled across chips (``s2sim.compiler.machine_map``: the fewest chips that hold
it, or ``--chips N``) and run on the machine's DES (``s2sim.engine.machine_des``: the chips'
routers, their links, the host at the Ethernet chip), its events and values checked against the
numpy reference; ``--engine analytic`` compiles and counts the link traffic on the same routes
from the reference's events (no per-chip time or energy, so no chip figures and no mismatches
to check). Prints the mapping (per-chip PEs, SRAM, routing entries, expected link load) and the
report's summary, and writes the bench folder as ``bench lm`` does: ``report.json`` (the one
report schema, with its ``machine`` section: per chip and per link), the CSVs and plots, and
``mapping.json`` (the machine's mapping over global PE ids, ``options.machine`` naming the
machine). The same inputs give a byte-identical ``report.json``.
"""

from __future__ import annotations

import numpy as np

from s2sim.errors import S2SimError

__all__ = ["uses_machine", "run_machine_bench", "machine_section"]


def uses_machine(args) -> bool:
    """Whether bench lm runs on a machine of chips (``--machine`` other than ``chip`` or
    ``--chips``): the default single-chip path is untouched otherwise."""
    return (getattr(args, "machine", None) not in (None, "chip")
            or getattr(args, "chips", None) is not None)


def machine_argv(args) -> list[str]:
    """--machine and --chips as given (the report's command)."""
    out = ["--machine", args.machine] if args.machine not in (None, "chip") else []
    return out + (["--chips", str(args.chips)] if args.chips is not None else [])


def run_machine_bench(args, bench, model, tokens, compile_argv: list[str]) -> None:
    """Compile across chips and run; fills ``bench.parts`` (mapping, result, machine,
    compile_argv) for ``Bench.finish`` to write the report; ``compile_argv``: the compile
    options given (the report's command)."""
    from s2sim.commands.options import AUTO, ESTIMATE, SPEC
    from s2sim.compiler.ir import Network
    from s2sim.compiler.machine_map import compile_machine

    if args.decoder != "host":
        raise S2SimError("--machine: only --decoder host runs on a machine of chips")
    if args.engine == "functional":
        raise S2SimError("--machine: use --engine des (or analytic for the link counts)")
    if args.tick_s == SPEC:
        raise S2SimError("--machine: --tick-s spec is not supported (give seconds, or auto for "
                         "the machine compiler's choice)")
    name, ref = bench.parts["name"], bench.parts["ref"]
    net = Network.from_lm(model, name=name, ref=ref.network_ref)
    tick = None if args.tick_s in (AUTO, ESTIMATE) else float(args.tick_s)
    bench.enter(f"compiling onto machine {args.machine or 'board48'}", say=True)
    mm = compile_machine(net, args.machine or "board48", chips=args.chips, pl=args.pl,
                         tick_period_s=tick)
    print(mm.report())
    print()
    bench.parts.update(mapping=mm.mapping, compile_argv=[*compile_argv, *machine_argv(args)])
    bench.notes.append(
        f"machine {mm.machine.name}: {len(mm.parts)} of {mm.machine.n_chips} chips used (the "
        f"network needs {mm.chips_needed}), tick {mm.tick_s * 1e6:g} us "
        + ("given" if tick is not None else "chosen by the machine compiler (the shortest 0.5 ms "
                                            "step that holds the partition and the schedule)"))
    toks = np.asarray(tokens, np.int64)
    if args.engine == "des":
        from s2sim.engine.machine_des import as_run_result, run_machine_des

        bench.enter(f"running {toks.size} tokens on the machine's DES", say=True)
        res = run_machine_des(mm, toks)
        bench.parts["result"] = as_run_result(mm, res, toks)
        bench.parts["machine"] = machine_section(mm, res.analytic_links, toks.size, res)
    else:
        from s2sim.engine.machine_des import analytic_link_traffic, prepared_run

        bench.enter(f"counting the link traffic of {toks.size} tokens", say=True)
        a = analytic_link_traffic(mm, prepared_run(mm, toks))
        bench.parts["machine"] = machine_section(mm, a, toks.size)
        bench.notes.append("analytic engine on a machine: the link traffic is counted from the "
                           "reference's events on the compiled multicast trees; no per-chip "
                           "time or energy: --engine des")


def machine_section(mm, counted: dict, n_steps: int, res=None):
    """The report's ``machine`` section of a run of ``n_steps`` tokens: per chip, per link and
    the link totals, from the DES run ``res`` or, without it, from the analytic count
    ``counted`` (``s2sim.engine.machine_des.analytic_link_traffic``)."""
    from s2sim.report.schema import ChipRow, LinkRow, Machine

    m = mm.machine
    T = int(n_steps)
    ran = {c["chip"]: c for c in (res.chips if res is not None else [])}
    chips = []
    for p in mm.parts:
        b, x, y = m.chips[p.chip]
        r = ran.get(p.chip)
        chips.append(ChipRow(
            chip=p.chip, board=int(b), x=int(x), y=int(y), pes=p.pes,
            sram_bytes_per_pe_max=int(max(p.sram_bytes.values(), default=0)),
            table_entries=p.table_entries, table_entries_before=p.routes_before,
            energy_j=None if r is None else float(r["energy_j"]),
            energy_per_step_j=None if r is None else float(r["energy_j"]) / max(T, 1),
            busy_fraction=None if r is None else float(r["busy_fraction"]),
            noc_packets=None if r is None else int(r["noc_packets"]),
            link_packets_out=int(r["link_packets_out"]) if r is not None else sum(
                v for k, v in counted["per_link"].items() if int(k.split(":")[0]) == p.chip),
            energy_by_component_j={} if r is None else {
                k: float(v) for k, v in sorted(r["components_j"].items())}))
    if res is not None:
        links = [LinkRow(chip=int(r["chip"]), link=int(r["link"]), to=int(r["to"]),
                         packets=int(r["packets"]), bits=int(r["bits"]),
                         dropped=int(r["dropped"]), utilisation=float(r["utilisation"]),
                         energy_j=float(r["energy_j"])) for r in res.links]
    else:
        links = []
        for k, v in counted["per_link"].items():
            c, d = (int(i) for i in k.split(":"))
            links.append(LinkRow(chip=c, link=d, to=int(m.neighbour[c, d]), packets=int(v),
                                 bits=int(v) * int(m.packet_bits)))
    packets = res.link_packets if res is not None else int(counted["packets"])
    return Machine(
        name=m.name, chips_in_machine=int(m.n_chips), chips_used=len(mm.parts),
        chips_needed=int(mm.chips_needed), timed=res is not None, link_packets=packets,
        link_packets_per_step=packets / max(T, 1),
        link_bits=sum(r.bits for r in links), link_hops=int(counted["hops"]),
        link_dropped=res.link_dropped if res is not None else None,
        link_packets_counted=int(counted["packets"]),
        mismatches_not_checked=None if res is not None else (
            "the analytic engine counts the reference's own events (nothing independent to "
            "compare; use --engine des)"),
        chips=chips,
        links=sorted(links, key=lambda r: (r.chip, r.link)))
