"""`s2sim sweep SPACE.yaml`: run a bench workload over a design space (on Dask), tabulate the
headline metrics of every point, print and plot the Pareto front. See docs/sweep.md.

    s2sim sweep examples/sweep-small.yaml                 # LocalCluster on this machine's cores
    s2sim sweep space.yaml --scheduler tcp://HOST:8786    # an existing Dask cluster
    s2sim sweep space.yaml --pareto                       # analyse what is stored, run nothing
"""

from __future__ import annotations

import argparse
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep", help="design-space exploration: a bench over a grid of options, Pareto front",
        description="Run `s2sim bench` over the points of a space file (axes over bench options, "
                    "spec overrides set.PATH and compiler keywords compile.KEY), in parallel on "
                    "dask.distributed; every point's report is kept and cached, the results go "
                    "to OUT/sweep.parquet and OUT/sweep.csv, the Pareto front to OUT/front.txt "
                    "and OUT/front.png.")
    p.add_argument("space", metavar="SPACE.yaml", help="the space file (see docs/sweep.md)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder and cache (default runs/sweep-<space name>)")
    p.add_argument("--pareto", action="store_true",
                   help="run nothing: print the Pareto front of the points already stored")
    p.add_argument("--metrics", default=None, metavar="A,B[,C]",
                   help="metrics of the front (2 or 3; max:NAME to maximise; default the "
                        "space's 'pareto', else energy_per_token_j,latency_per_token_s)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="address of an existing Dask scheduler (default: a LocalCluster here)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="LocalCluster worker processes (default: the CPU count; 0: run the "
                        "points one by one in this process, without Dask)")
    p.add_argument("--force", action="store_true", help="recompute every point (ignore cache)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sim import sweep

    space = sweep.parse_space(args.space)
    if args.metrics:
        space.pareto = sweep.pareto_metrics(args.metrics)
    if args.workers is not None and args.workers < 0:
        raise sweep.SpaceError(f"--workers {args.workers}: must be >= 0")
    res = sweep.run(space, args.out, scheduler=args.scheduler, workers=args.workers,
                    force=args.force, progress=False if args.quiet else None,
                    compute=not args.pareto, plots=not args.no_plots)
    missing = sum(r["status"] == "missing" for r in res.rows)
    print(f"sweep {space.source}: {len(res.rows)} points: {res.computed} computed, "
          f"{res.cached} cached, {res.failed} failed"
          + (f", {missing} not computed" if missing else "") + f" in {res.wall_s:.1f} s")
    for r in res.rows:
        if r["status"] == "error":
            label = " ".join(f"{k}={r[k]}" for k in space.axes)
            print(f"  point {r['point']} ({label}) failed: {r['error']}", file=sys.stderr)
    print(sweep.front_text(res))
    print("table: " + ", ".join(str(res.files[k]) for k in ("parquet", "csv") if k in res.files))
    if "front_png" in res.files:
        n = sum(k.startswith("sensitivity_") for k in res.files)
        print(f"plots: {res.files['front_png']} and {n} sensitivity plots in {res.out}")
    return 0
