"""Regenerate every recorded figure of README.md (and docs/) from the commands that produce it.

    python benchmarks/figures.py                  # all blocks
    python benchmarks/figures.py --only small,paper
    python benchmarks/figures.py --skip gesture,speed

A figure block in a Markdown file sits between ``<!-- fig:NAME -->`` and ``<!-- /fig:NAME -->``;
this script runs the block's commands (in this process, through ``s2sim.cli.main``, or as the
benchmark scripts), renders the block from the reports they write and replaces it. Each block
states its command(s), the machine and the date, so nothing in those blocks is typed by hand.
Simulated figures are deterministic; speed figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

README = ROOT / "README.md"


def machine() -> str:
    return (f"{platform.machine()} {os.cpu_count()}-core machine ({cpu_model()}), Python "
            f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}")


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo) and LLVM's name of its microarchitecture: speed
    figures depend on both (e.g. AVX-512 scatter is fast on Intel, microcode on AMD Zen 4)."""
    import llvmlite.binding as llvm

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {llvm.get_host_cpu_name()}"


def cli(*argv: str) -> str:
    """Run one s2sim command in this process; its stdout (errors raise)."""
    from s2sim.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(list(argv))
    if rc:
        raise SystemExit(f"s2sim {' '.join(argv)} exited with {rc}")
    return buf.getvalue()


def bench(tmp: Path, name: str, *argv: str) -> dict:
    """The report of ``s2sim bench ARGV`` (run once per name and kept for later blocks)."""
    out = tmp / name
    if not (out / "report.json").is_file():
        cli("bench", *argv, "--out", str(out), "--no-plots", "--quiet")
    return json.loads((out / "report.json").read_text())


def si(v: float, unit: str) -> str:
    for f, p in ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")):
        if abs(v) >= f:
            return f"{v / f:.3g} {p}{unit}"
    return f"{v:.3g} {unit}"


def _ratio_range(r: dict, graph: bool, which: str) -> str:
    rows = [x for x in r["ratios"] if x["gpu_key"].endswith("-graph") == graph]
    lo = min(x[f"{which}_gpu_over_s2"] for x in rows)
    hi = max(x[f"{which}_gpu_over_s2"] for x in rows)
    blo = min(x[f"{which}_gpu_over_s2_low"] for x in rows)
    bhi = max(x[f"{which}_gpu_over_s2_high"] for x in rows)
    return f"{lo:.3g}–{hi:.3g}× (band {blo:.3g}–{bhi:.3g}×)"


def gpu_sentence(r: dict) -> str:
    per = ", ".join(f"{x['gpu_key'].upper()} {x['energy_gpu_over_s2']:.3g}× "
                    f"({x['energy_gpu_over_s2_low']:.2g}–{x['energy_gpu_over_s2_high']:.3g})"
                    for x in r["ratios"] if not x["gpu_key"].endswith("-graph"))
    return (f"GPU/S2 energy per token, eager (band): {per}; with CUDA-graph replay "
            f"{_ratio_range(r, True, 'energy')}. Latency GPU/S2: eager "
            f"{_ratio_range(r, False, 'latency')}, CUDA graph {_ratio_range(r, True, 'latency')} "
            f"(below 1: the GPU answers sooner).")


def s2_sentence(r: dict) -> str:
    d, s = r["deployment"], r["s2"]
    comp = sorted(s["energy_by_component_per_step_j"].items(), key=lambda kv: -kv[1])
    comp = ", ".join(f"{k} {si(v, 'J')}" for k, v in comp if v > 0)
    checks = (f"{s['dropped_packets']} dropped packets, {s['tick_overruns']} tick overruns")
    return (f"{d['pes_used']} PEs in {d['qpes_used']} QPEs, max "
            f"{d['sram_bytes_per_pe_max'] / 1024:.1f} / mean "
            f"{d['sram_bytes_per_pe_mean'] / 1024:.1f} KiB data SRAM per PE (of "
            f"{d['sram_bytes_per_pe_capacity'] / 1024:.0f} KiB), step period "
            f"{si(s['step_period_s'], 's')} (tick by {d['tick_choice']}); per token "
            f"{si(s['latency_per_step_mean_s'], 's')} latency, {si(s['energy_per_step_j'], 'J')}, "
            f"{si(s['average_power_w'], 'W')}; {s['events_per_step_mean']:.0f} events, "
            f"{s['packets_per_step_mean']:.0f} packets and {s['hops_per_step_mean']:.0f} hops per "
            f"token; {checks}. Energy per token by component: {comp}.")


def check_des_sentence(r: dict) -> str:
    c = r.get("check_des")
    if not c:
        return ""
    rel = c["analytic_vs_des"]
    return (f" DES cross-check of the first {c['steps']} tokens (`--check-des`): "
            f"{c['event_mismatches']} event / {c['value_mismatches']} value mismatches vs the "
            f"reference, {c['dropped_packets']} dropped, {c['late_packets']} late; analytic vs "
            f"DES energy {100 * (rel['energy'] or 0):+.2f} %, latency "
            f"{100 * (rel['latency'] or 0):+.2f} %.")


# -- the blocks ----------------------------------------------------------------------------------

def block_calibration(tmp: Path) -> str:
    from s2sim.spec import load_spec
    from s2sim.validate import validate

    rows = validate(load_spec())
    out = ["Command: `s2sim validate` (" + machine() + ").", "",
           "| measurement | published | simulated | error | basis |", "|---|---|---|---|---|"]
    for r in rows:
        err = "-" if r.error_pct is None else f"{r.error_pct:+.2f} %"
        sim = "-" if r.simulated is None else f"{r.simulated:.4g}"
        out.append(f"| {r.name} | {r.published:.4g} {r.unit} | {sim} {r.unit} | {err} | "
                   f"{r.basis} |")
    return "\n".join(out)


def block_small(tmp: Path) -> str:
    a = bench(tmp, "small", "lm", "--check-des", "20")
    d = bench(tmp, "small-des", "lm", "--engine", "des")
    rel = {k: (d["s2"][k] - a["s2"][k]) / a["s2"][k]
           for k in ("energy_per_step_j", "latency_per_step_mean_s")}
    return (f"Commands: `s2sim bench lm --check-des 20` and `s2sim bench lm --engine des` "
            f"({machine()}; 140 self-generated tokens, PL1): " + s2_sentence(a)
            + check_des_sentence(a) + " " + gpu_sentence(a)
            + f" On the DES engine over all 140 tokens: energy per token "
              f"{100 * rel['energy_per_step_j']:+.3f} %, latency "
              f"{100 * rel['latency_per_step_mean_s']:+.3f} %, {d['s2']['dropped_packets']} "
              f"dropped packets, {d['s2']['event_mismatches']} event mismatches.")


def block_paper(tmp: Path) -> str:
    r = bench(tmp, "paper", "lm", "--model", "paper", "--tokens", "70", "--check-des", "10")
    rows = ["| deployment | command | PEs | max SRAM/PE | step period | latency/token | "
            "energy/token |", "|---|---|---|---|---|---|---|"]
    for label, extra in (("fewest PEs (default)", ()), ("150 PEs, PL0 (the published)",
                                                        ("--pes", "150", "--pl", "0")),
                         ("150 PEs, PL0, embedding + decoder on the chip (95 % pruned table)",
                          ("--pes", "150", "--pl", "0", "--decoder", "chip")),
                         ("lowest latency", ("--objective", "latency")),
                         ("lowest estimated energy", ("--objective", "energy"))):
        x = r if not extra else bench(tmp, "paper-" + "-".join(extra), "lm", "--model", "paper",
                                      "--tokens", "70", *extra)
        d, s = x["deployment"], x["s2"]
        cmd = "`s2sim bench lm --model paper --tokens 70" + "".join(f" {e}" for e in extra) + "`"
        rows.append(f"| {label} | {cmd} | {d['pes_used']} | "
                    f"{d['sram_bytes_per_pe_max'] / 1024:.1f} KiB | {si(s['step_period_s'], 's')} "
                    f"| {si(s['latency_per_step_mean_s'], 's')} | "
                    f"{si(s['energy_per_step_j'], 'J')} |")
    return (f"Command: `s2sim bench lm --model paper --tokens 70 --check-des 10` ({machine()}): "
            + s2_sentence(r) + check_des_sentence(r) + " " + gpu_sentence(r) + "\n\n"
            + "\n".join(rows))


def block_gesture(tmp: Path) -> str:
    r = bench(tmp, "gesture", "gesture", "--samples", "132")
    q = r["quality"]["metrics"] if r.get("quality") else {}
    s, d = r["s2"], r["deployment"]
    acc = q.get("test_accuracy", q.get("accuracy", float("nan")))
    return (f"Command: `s2sim bench gesture --samples 132` ({machine()}; synthetic DVS "
            f"recordings — accuracy on synthetic data is *not* accuracy on DVS128 Gesture): "
            f"accuracy {100 * acc:.1f} % on the synthetic held-out set, chip and functional "
            f"predictions agree on {100 * q.get('chip_functional_agreement', float('nan')):.1f} % "
            f"of {q.get('chip_samples', 0):.0f} simulated samples; {d['pes_used']} PEs; per frame "
            f"{si(s['latency_per_step_mean_s'], 's')} latency, {si(s['energy_per_step_j'], 'J')}. "
            "The auto-PL study is in the bench folder's auto_pl.json.")


def block_gesture_doc(tmp: Path) -> str:
    """docs/gesture.md: the chip run's table and the auto-PL study, from the same bench run."""
    r = bench(tmp, "gesture", "gesture", "--samples", "132")
    study = json.loads((tmp / "gesture" / "auto_pl.json").read_text())
    q, s, d = r["quality"]["metrics"], r["s2"], r["deployment"]
    agree = q["chip_functional_agreement"] * q["chip_samples"]
    comp = s["energy_by_component_per_step_j"]
    ratios = ", ".join(f"{x['gpu_key'].upper()} {x['energy_gpu_over_s2']:.3g}×"
                       for x in r["ratios"] if not x["gpu_key"].endswith("-graph"))
    rows = ["| figure | value |", "|---|---|",
            f"| placement | {d['pes_used']} PEs in {d['qpes_used']} QPEs, ≤ "
            f"{d['sram_bytes_per_pe_max'] / 1024:.1f} KiB SRAM per PE |",
            f"| chip vs functional predictions | {agree:.0f}/{q['chip_samples']:.0f} agree; "
            f"{s['event_mismatches']} event / "
            f"{s['value_mismatches']} value mismatches; max logit error "
            f"{q['chip_max_abs_logit_error']:.2g} |",
            f"| accuracy on the chip | {100 * q['chip_accuracy']:.1f} % |",
            f"| latency per frame | {si(s['latency_per_step_mean_s'], 's')} (step period "
            f"{si(s['step_period_s'], 's')}) |",
            f"| energy per frame / average power | {si(s['energy_per_step_j'], 'J')} / "
            f"{si(s['average_power_w'], 'W')} (chip floor {si(comp['chip_floor'], 'J')}, PE "
            f"sleep {si(comp['pe_sleep'], 'J')}, PE active {si(comp['pe_active'], 'J')}) |",
            f"| GPU / S2 energy per frame (eager) | {ratios} |"]
    pls = study["pl_names"]
    lo, hi = f"fixed {pls[0]}", f"fixed {pls[-1]}"
    table = [f"| step period | {lo} | {hi} | auto | auto vs {pls[-1]} (chip / PEs) | misses "
             f"{pls[0]} / {pls[-1]} / auto |", "|---|---|---|---|---|---|"]
    for name, sc in study["scenarios"].items():
        runs = sc["runs"]
        auto = next(v for k, v in runs.items() if k.startswith("auto"))
        table.append(
            f"| {name} ({sc['step_period_s'] * 1e3:.3g} ms) | {runs[lo]['chip_energy_j']:.4g} J | "
            f"{runs[hi]['chip_energy_j']:.4g} J | {auto['chip_energy_j']:.4g} J | "
            f"{-100 * sc['auto_saving_vs_fixed_high_chip']:+.1f} % / "
            f"{-100 * sc['auto_saving_vs_fixed_high_pe']:+.1f} % | "
            f"{runs[lo]['deadline_misses']} / {runs[hi]['deadline_misses']} / "
            f"{auto['deadline_misses']} |")
    return (f"Command: `s2sim bench gesture --samples 132` ({machine()}):\n\n" + "\n".join(rows)
            + "\n\nAutomatic per-PE performance levels on the same run (`auto_pl.json`, "
            f"{study['pes']} PEs x {study['steps']} steps):\n\n" + "\n".join(table))


def block_speed(tmp: Path) -> str:
    def run(*cmd: str) -> str:
        return subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout

    engines = run("benchmarks/bench_engines.py", "--des-tokens", "40")
    rows = run("benchmarks/bench_scatter.py")
    chip = run("benchmarks/bench_chip_speed.py")
    comp = run("benchmarks/bench_compile.py")
    return ("Commands and their output (" + machine() + "; speed depends on the machine and its "
            "load):\n\n```\n$ python benchmarks/bench_engines.py --des-tokens 40\n"
            + engines.strip() + "\n\n$ python benchmarks/bench_scatter.py\n" + rows.strip()
            + "\n\n$ python benchmarks/bench_chip_speed.py\n" + chip.strip()
            + "\n\n$ python benchmarks/bench_compile.py\n" + comp.strip() + "\n```")


def block_whole_split(tmp: Path) -> str:
    """The whole WikiText-2 test split on the analytic engine, each command in a child process
    with its wall and CPU time and peak resident memory: the paper shape (issue 12's target: at
    most 5 minutes and 2 GB; generated weights, so no perplexity) and the trained wt2 model,
    whose perplexity comes from the same pass."""
    def run(name: str, model: str) -> str:
        argv = ["bench", "lm", "--model", model, "--data", "../shared/data", "--corpus",
                "wikitext-2", "--tokens", "all"]
        t0 = time.perf_counter()
        with open(tmp / f"{name}.out", "w+") as log:
            child = subprocess.Popen([sys.executable, "-m", "s2sim.cli", *argv, "--out",
                                      str(tmp / name), "--no-plots", "--quiet"], cwd=ROOT,
                                     stdout=log, stderr=subprocess.STDOUT, text=True)
            _, status, use = os.wait4(child.pid, 0)  # this child's own CPU time and peak RSS
            child.returncode = os.waitstatus_to_exitcode(status)
            wall = time.perf_counter() - t0
            log.seek(0)
            out = log.read()
        if child.returncode:
            raise RuntimeError(f"s2sim {' '.join(argv)} failed:\n{out}")
        keep = [x for x in out.splitlines() if x.startswith((
            "workload:", "input:", "per token:", "energy per token", "activity:", "quality:"))]
        return (f"Command: `s2sim {' '.join(argv)}`: {wall:.0f} s wall, "
                f"{use.ru_utime + use.ru_stime:.0f} CPU-s, peak resident memory "
                f"{use.ru_maxrss / 2**20:.2f} GiB. From its summary:\n\n```\n"
                + "\n".join(keep) + "\n```")

    return (f"Measured on {machine()} (targets for the paper shape: 5 minutes, 2 GB).\n\n"
            + run("paper", "paper") + "\n\n" + run("wt2", "wt2"))


def block_bench_runs(tmp: Path) -> str:
    def run(name: str, *argv: str) -> str:
        out = tmp / name
        text = cli("bench", "lm", *argv, "--out", str(out), "--no-plots", "--quiet")
        text = text.replace(str(out), "OUT")
        return f"$ {' '.join(['s2sim', 'bench', 'lm', *argv, '--out', 'OUT'])}\n{text.strip()}"

    return (f"Measured on {machine()}.\n\n```\n" + run("runs-small") + "\n\n"
            + run("runs-paper", "--model", "paper", "--tokens", "70") + "\n```")


def block_sweep(tmp: Path) -> str:
    import shutil

    def sweep(*extra: str) -> tuple[str, float]:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "s2sim.cli", "sweep",
                              "examples/sweep-small.yaml", "--out", str(tmp / "sweep"),
                              "--workers", "2", *extra], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
        keep = [x for x in out.splitlines() if not x.startswith(("table:", "plots:"))]
        return "\n".join(keep).strip(), time.perf_counter() - t0

    first, t1 = sweep()
    again, t2 = sweep()
    three, _ = sweep("--pareto", "--metrics", "energy_per_token_j,latency_per_token_s,pes_used")
    shutil.copy(tmp / "sweep" / "front.png", ROOT / "docs" / "sweep-front.png")
    return (f"Measured on {machine()}, LocalCluster of 2 worker processes:\n\n```\n"
            f"$ s2sim sweep examples/sweep-small.yaml --workers 2      # {t1:.1f} s wall\n"
            f"{first}\n\n$ s2sim sweep examples/sweep-small.yaml --workers 2      # rerun, "
            f"all cached: {t2:.1f} s wall\n{again.splitlines()[0]}\n\n"
            f"$ s2sim sweep examples/sweep-small.yaml --pareto --metrics "
            f"energy_per_token_j,latency_per_token_s,pes_used\n{three}\n```")


def block_machine_scaling(tmp: Path) -> str:
    """docs/machine.md: energy and latency per token against width on board48's fewest chips."""
    import json
    import shutil

    subprocess.run([sys.executable, "benchmarks/bench_machine_scaling.py", "--tokens", "20",
                    "--out", str(tmp / "scaling")], cwd=ROOT, capture_output=True, text=True,
                   check=True)
    rows = json.loads((tmp / "scaling" / "scaling.json").read_text())
    shutil.copy(tmp / "scaling" / "scaling.png", ROOT / "docs" / "machine-scaling.png")
    gpus = list(rows[0]["gpus"])
    head = ("| width | chips | PEs | tick | S2 mJ/token | S2 ms/token | link packets/token | "
            "event mismatches | " + " | ".join(f"{g} mJ/token" for g in gpus) + " |")
    lines = [head, "|" + "---|" * (8 + len(gpus))]
    for r in rows:
        if "error" in r:
            lines.append(f"| x{r['width_scale']} | does not compile: {r['error']} |")
            continue
        n = 20
        lines.append(
            f"| x{r['width_scale']} | {r['chips']} | {r['pes']} | {r['tick_s'] * 1e3:.2f} ms | "
            f"{r['energy_per_token_j'] * 1e3:.3g} | {r['latency_per_token_s'] * 1e3:.3g} | "
            f"{r['link_packets'] / n:,.0f} | {r['event_mismatches']} | "
            + " | ".join(f"{r['gpus'][g]['energy_per_token_j'] * 1e3:.3g}" for g in gpus) + " |")
    return (f"Command: `python benchmarks/bench_machine_scaling.py --tokens 20` ({machine()}; "
            "machine DES, 20 self-generated tokens, pipeline fill included; GPU rows modelled, "
            "batch 1):\n\n" + "\n".join(lines)
            + "\n\n![energy and latency per token against width](machine-scaling.png)")


INT8_JSON = ROOT / "models" / "egru" / "checkpoints" / "egru_ptb_p95_int8.json"
INT8_CKPT = "models/egru/checkpoints/egru_ptb_p95_int8.npz"


def block_int8_models(tmp: Path) -> str:
    """docs/models.md: fp32 / PTQ / QAT of the shipped PTB EGRU, from the QAT run's results."""
    from models.egru.results_table import quant_table

    r = json.loads(INT8_JSON.read_text())
    return ("Rows written by `python -m models.egru.results_table --quant "
            "models/egru/checkpoints/egru_ptb_p95_int8.json` from the results of `"
            + r["command"] + "` (which wrote the shipped int8 checkpoint "
            "`checkpoints/egru_ptb_p95_int8.npz`):\n\n"
            + quant_table(INT8_JSON, "EGRU 96→192/96, 95 % pruned (`small`)"))


def _int8_row(label: str, cmd: list[str], x: dict) -> str:
    d, s = x["deployment"], x["s2"]
    q = (x.get("quality") or {}).get("metrics", {})
    ppl = f"{q['test_perplexity']:.1f}" if "test_perplexity" in q else "– (generated)"
    return (f"| {label} | `s2sim bench lm {' '.join(cmd)}` | {d['pes_used']} | "
            f"{d['sram_bytes_per_pe_max'] / 1024:.1f} / {d['sram_bytes_per_pe_mean'] / 1024:.1f}"
            f" KiB | {si(s['step_period_s'], 's')} | {si(s['latency_per_step_mean_s'], 's')} | "
            f"{si(s['energy_per_step_j'], 'J')} | "
            f"{si(s['energy_by_component_per_step_j'].get('pe_active', 0.0), 'J')} | "
            f"{si(s['energy_by_component_per_step_j'].get('mla', 0.0), 'J')} | {ppl} |")


def block_int8(tmp: Path) -> str:
    """docs/int8.md: --precision int8 vs fp32 on the small PTB model and the paper shape."""
    data = ("--data", "../shared/data")
    small = [("small, fp32", ["--precision", "fp32", *data]),
             ("small, int8 PTQ, no MLA", ["--precision", "int8", "--mla", "off", *data]),
             ("small, int8 PTQ (MLA: auto)", ["--precision", "int8", *data]),
             ("small, int8 QAT checkpoint", ["--model", INT8_CKPT, "--precision", "int8", *data])]
    paper = [("paper shape, fp32", ["--model", "paper", "--tokens", "70"]),
             ("paper shape, int8 PTQ", ["--model", "paper", "--tokens", "70", "--precision",
                                        "int8"])]
    rows = ["| deployment | command | PEs | SRAM/PE max / mean | step period | latency/token | "
            "energy/token | of which PE active | of which MLA | test ppl (b=1) |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    reps = {}
    for label, cmd in small + paper:
        reps[label] = bench(tmp, "int8-" + label.replace(" ", "_").replace(",", ""), "lm",
                            *cmd, "--check-des", "10")
        rows.append(_int8_row(label, cmd, reps[label]))
    n = reps["paper shape, fp32"]["deployment"]["pes_used"]
    cmd = ["--model", "paper", "--tokens", "70", "--precision", "int8", "--pes", str(n)]
    x = bench(tmp, "int8-paper-pes", "lm", *cmd)
    rows.append(_int8_row(f"paper shape, int8 PTQ on fp32's {n} PEs", cmd, x))
    checks = "; ".join(
        f"{label}: {r['check_des']['event_mismatches']} event / "
        f"{r['check_des']['value_mismatches']} value mismatches"
        for label, r in reps.items() if r.get("check_des"))
    mla = "; ".join(f"{label}: {n}" for label, r in reps.items()
                    for n in r.get("notes", []) if n.startswith("MLA"))
    return (f"Commands as in the table, each with `--check-des 10` ({machine()}; analytic "
            "engine, PL1, tick by auto; small: 140 test tokens, perplexity over the whole PTB "
            "test split by the functional path — the integer reference for int8). DES "
            f"cross-check of the first 10 tokens against the (integer) reference: {checks}. "
            f"The reports' MLA notes: {mla}.\n\n" + "\n".join(rows))


BLOCKS = {"calibration": (README, block_calibration), "small": (README, block_small),
          "paper": (README, block_paper), "gesture": (README, block_gesture),
          "speed": (README, block_speed), "whole-split": (README, block_whole_split),
          "sweep": (ROOT / "docs" / "sweep.md", block_sweep),
          "bench-runs": (ROOT / "docs" / "bench.md", block_bench_runs),
          "gesture-doc": (ROOT / "docs" / "gesture.md", block_gesture_doc),
          "int8-models": (ROOT / "docs" / "models.md", block_int8_models),
          "int8": (ROOT / "docs" / "int8.md", block_int8),
          "machine-scaling": (ROOT / "docs" / "machine.md", block_machine_scaling)}


def replace_block(text: str, name: str, body: str) -> str:
    pat = re.compile(rf"(<!-- fig:{re.escape(name)} -->\n).*?(<!-- /fig:{re.escape(name)} -->)",
                     re.S)
    if not pat.search(text):
        raise SystemExit(f"no <!-- fig:{name} --> block in the file")
    return pat.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma list of blocks (default: all)")
    p.add_argument("--skip", default="", help="comma list of blocks to leave as they are")
    args = p.parse_args(argv)
    names = [n for n in (args.only.split(",") if args.only else BLOCKS) if n]
    names = [n for n in names if n not in args.skip.split(",")]
    changed = []
    with tempfile.TemporaryDirectory(prefix="s2sim-figures-") as tmp:
        for name in names:
            path, fn = BLOCKS[name]
            print(f"[figures] {name} ...", file=sys.stderr)
            text = path.read_text()
            new = replace_block(text, name, fn(Path(tmp)))
            if new != text:
                changed.append(name)
                path.write_text(new)
    print(f"[figures] changed: {', '.join(changed) or 'nothing'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
