"""`s2sim compile`: map an EGRU network onto the chip and write the Mapping (JSON).

    s2sim compile paper --max-pes 150 --out mapping.json            # the paper-shape LM
    s2sim compile model.npz --pl 0 --partitioner interleaved --placer linear --out m.json
    s2sim compile paper --pin L0.S0=36 --report --out m.json        # full per-stage report

MODEL is any name models/egru/names.py accepts: ``small`` (the shipped PTB checkpoint),
``paper`` / ``paper:seed=N`` (the generated paper-shape model), ``gesture`` (the shipped gesture
classifier) or a checkpoint PATH. The tick defaults to ``auto`` (``--tick-s``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from s2sim.commands import limits
from s2sim.commands.chip import add_spec_arguments
from s2sim.commands.options import add_deployment_arguments, add_tick_argument, deployment_kw
from s2sim.errors import S2SimError
from s2sim.output import output_file


def add_compile_arguments(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    p.add_argument("--pl", type=limits.level, default=None,
                   help="performance level of every PE (default: the fastest)")
    p.add_argument("--max-pes", type=limits.pe_count, default=None,
                   help="most PEs the mapping may use (default: spec organisation.usable_pes)")
    p.add_argument("--partitioner", default="by_units",
                   help="by_units (default) | interleaved | a name registered in Python")
    p.add_argument("--placer", default="locality",
                   help="locality (default) | linear | random | a name registered in Python")
    p.add_argument("--placement", metavar="FILE", default=None,
                   help="explicit placement table: JSON {slice_id: pe_id} for every slice")
    p.add_argument("--pin", metavar="SLICE=PE", action="append", default=[],
                   help="pin one slice to a PE id, e.g. L0.S3=37 (repeatable)")
    add_tick_argument(p)
    add_deployment_arguments(p)
    p.add_argument("--activity", type=limits.probability, default=None,
                   help="expected fraction of units firing per step, for sizing (default 0.25)")
    p.add_argument("--seed", type=limits.seed, default=0, help="seed of the random placer")


def load_network(model: str, decoder: str = "host"):
    """The network a model argument names (``models.egru.names``: small, paper, gesture, PATH),
    as the deployment with the decoder on ``decoder`` runs it (``names.for_decoder``)."""
    from models.egru.names import for_decoder, resolve_model
    from s2sim.compiler.ir import resolve_network

    return resolve_network(for_decoder(resolve_model(model), decoder))


def _pins(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        sid, sep, pe = item.partition("=")
        try:
            out[sid.strip()] = int(pe, 0)
        except ValueError:
            raise S2SimError(f"--pin {item!r}: expected SLICE=PE, e.g. L0.S3=37") from None
        if not sep:
            raise S2SimError(f"--pin {item!r}: expected SLICE=PE, e.g. L0.S3=37")
    return out


def compile_from_args(net, args, inputs=None):
    """(mapping, TickChoice) for the command's options; ``inputs``: what ``--tick-s auto``
    sizes the tick for (seeded stand-ins when None)."""
    placer = args.placer
    if args.placement:
        try:
            placer = json.loads(Path(args.placement).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise S2SimError(f"--placement {args.placement}: cannot read a JSON table ({exc})"
                             ) from None
        if not isinstance(placer, dict):
            raise S2SimError(f"--placement {args.placement}: expected {{slice_id: pe_id}}")
    opts = {} if args.activity is None else {"activity": args.activity}
    from s2sim.engine.tick import compile_with_tick

    # --spec/--set reach the compiler through deployment_kw (once: passing them here too
    # gave "multiple values for keyword argument 'spec_path'")
    return compile_with_tick(net, args.tick_s, inputs, margin=args.tick_margin, pl=args.pl,
                             max_pes=args.max_pes, partitioner=args.partitioner, placer=placer,
                             pins=_pins(args.pin), seed=args.seed, **deployment_kw(args), **opts)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "compile", help="map an EGRU network onto the chip (partition, place, route)",
        description="Compile an EGRU network into per-PE programs: partition each layer into "
                    "slices, place them, allocate keys and routing entries, and write the "
                    "Mapping as JSON.")
    p.add_argument("model", help="small | paper | paper:seed=N | gesture | checkpoint PATH")
    add_compile_arguments(p)
    p.add_argument("--out", required=True, help="mapping JSON to write")
    p.add_argument("--report", action="store_true",
                   help="print the full per-stage report (partition, placement, SRAM, routing)")
    p.set_defaults(func=run)


def run(args) -> int:
    from s2sim.engine.tick import describe

    out = output_file(args.out)
    net = load_network(args.model, args.decoder)
    mapping, choice = compile_from_args(net, args)
    mapping.save(out)
    print(describe(choice, mapping))
    if args.report:
        print(mapping.report(), end="")
    sm = mapping.summary()
    print(f"{sm['network']}: layers {sm['layers']} -> {sm['pes_used']} PEs "
          f"({sm['slices']} slices), largest footprint {sm['largest_pe_bytes']} B on PE "
          f"{sm['largest_pe']} of {sm['data_bytes_available']} B; routing "
          f"{sm['routes_before']} -> {sm['routes_after']} entries (table {sm['table_entries']}); "
          f"PL{sm['pl']} tick {sm['tick_period_ps'] / 1e6:g} us, busiest slice "
          f"~{sm['max_est_cycles_per_step']} of {sm['cycles_per_tick']} cycles; "
          f"compiled in {mapping.compile_s:.2f} s -> {args.out}")
    sys.stdout.flush()
    return 0
