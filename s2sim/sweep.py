"""Design-space exploration: run a bench workload over a grid of options, keep every report,
tabulate the headline metrics and find the Pareto front.

A *space* (YAML file or mapping) names the workload and its axes::

    bench: lm                      # the bench driver: lm | gesture (any `s2sim bench` driver)
    base: {model: small, tokens: 140}   # options of every point (or a string: "--model small")
    axes:
      pl: [0, 1]                            # a bench option (any option `s2sim bench lm` takes)
      tick-s: [auto, 0.0005, 0.001]
      compile.cycle_headroom: {from: 0.3, to: 0.8, num: 3}   # a compiler keyword
      set.power.chip_floor_w: {random: [0.01, 0.1], n: 4, seed: 1}  # a spec override (--set)
    sample: {n: 10, seed: 0}       # optional: a seeded random subset of the grid
    constraints: ["latency_per_token_s <= 5e-3"]
    pareto: [energy_per_token_j, latency_per_token_s]

Each point is an ordinary ``s2sim bench`` run (in-process, ``--no-plots --quiet``) whose
``report.json`` is kept under ``OUT/points/<key>/``; the key hashes everything that determines
the result (model file, spec, options, s2sim version and source), so a rerun computes only the
points that are missing. Points run on ``dask.distributed``: a ``LocalCluster`` by default, or an
existing cluster by its ``tcp://`` scheduler address. Spec overrides and compiler keywords reach
the bench as its own ``--set`` and ``--compile-option`` options.

Only ``s2sim.commands.sweep`` imports this module.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import itertools
import json
import math
import os
import random
import re
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2sim.errors import S2SimError

SET_PREFIX = "set."
COMPILE_PREFIX = "compile."
# bench options a sweep owns (each point's output folder and quietness)
RESERVED = {"out", "quiet", "no_plots", "help"}
# compiler keywords an axis may set (compile.<key>), with the type of their values
COMPILE_TYPES: dict[str, type] = {
    "max_pes": int, "activity": float, "input_activity": float, "cycle_headroom": float,
    "queue_depth": int, "check_schedule": bool, "sram_headroom_bytes": int,
}
# headline metrics: column -> (report section, field); per-step metrics are per token / frame
METRICS: dict[str, tuple[str, str]] = {
    "latency_per_step_s": ("s2", "latency_per_step_mean_s"),
    "latency_per_step_max_s": ("s2", "latency_per_step_max_s"),
    "energy_per_step_j": ("s2", "energy_per_step_j"),
    "average_power_w": ("s2", "average_power_w"),
    "latency_per_sequence_s": ("s2", "latency_per_sequence_s"),
    "energy_per_sequence_j": ("s2", "energy_per_sequence_j"),
    "step_period_s": ("s2", "step_period_s"),
    "tick_overruns": ("s2", "tick_overruns"),
    "dropped_packets": ("s2", "dropped_packets"),
    "pes_used": ("deployment", "pes_used"),
    "qpes_used": ("deployment", "qpes_used"),
    "performance_level": ("workload", "performance_level"),
}
DEFAULT_PARETO = ["energy_per_step_j", "latency_per_step_s"]
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>|==)\s*(\S+)\s*$")
_OPS = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
        ">": lambda a, b: a > b, "==": lambda a, b: a == b}


class SpaceError(S2SimError):
    """The space file is malformed (names the axis, option or constraint at fault)."""


# ---------------------------------------------------------------------------------------------
# metrics


def metric_name(name: str) -> str:
    """Canonical column of a metric: ``latency_per_token`` -> ``latency_per_step_s``;
    ``quality.test_perplexity`` and the metric columns themselves pass through."""
    n = str(name).strip()
    if n.startswith("quality.") or n in METRICS:
        return n
    n = n.replace("_token", "_step").replace("_frame", "_step")
    if n in METRICS:
        return n
    for suffix in ("_s", "_j", "_w"):
        if n + suffix in METRICS:
            return n + suffix
    raise SpaceError(f"metric {name!r}: unknown; known: {', '.join(METRICS)} "
                     "(per token / frame: _step) or quality.<name>")


def report_metrics(report) -> dict[str, Any]:
    """The headline metrics of a report (None where the engine has none)."""
    out: dict[str, Any] = {}
    for col, (section, fld) in METRICS.items():
        part = getattr(report, section, None)
        out[col] = None if part is None else getattr(part, fld, None)
    if report.quality is not None:
        for k, v in sorted(report.quality.metrics.items()):
            out[f"quality.{k}"] = v
    return out


# ---------------------------------------------------------------------------------------------
# the space


@dataclass
class Constraint:
    metric: str
    op: str
    value: float
    text: str

    def holds(self, row: dict) -> bool:
        v = row.get(self.metric)
        return v is not None and not _isnan(v) and _OPS[self.op](float(v), self.value)


@dataclass
class Space:
    """A parsed, validated space: the base options and the points to run."""

    bench: str
    base: dict[str, Any]
    axes: dict[str, list[Any]]
    points: list[dict[str, Any]]
    constraints: list[Constraint] = field(default_factory=list)
    pareto: list[str] = field(default_factory=lambda: list(DEFAULT_PARETO))
    source: str = "<space>"


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def bench_parser(driver: str) -> argparse.ArgumentParser:
    """The argument parser of ``s2sim bench DRIVER`` (as the CLI builds it)."""
    from s2sim.cli import build_parser

    top = build_parser()
    bench = _subparser(top, "bench")
    drv = _subparser(bench, driver) if bench is not None else None
    if drv is None:
        raise SpaceError(f"bench {driver!r}: no such `s2sim bench` workload")
    return drv


def _subparser(parser: argparse.ArgumentParser, name: str):
    for action in parser._actions:  # argparse keeps sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """dest -> action of every ``--option`` of a parser."""
    return {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}


def _dest(name: str) -> str:
    return str(name).strip().lstrip("-").replace("-", "_")


def _load_yaml(space) -> tuple[dict, str]:
    if isinstance(space, dict):
        return space, "<space>"
    import yaml

    from s2sim.input_files import read_text

    p = Path(space)
    text = read_text(p, f"space {p}", SpaceError)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpaceError(f"space {p}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise SpaceError(f"space {p}: expected a mapping with 'bench', 'base' and 'axes'")
    return data, str(p)


def _base_options(data: dict) -> tuple[str, dict]:
    """``(driver, options)`` from ``bench:`` + ``base:`` (a mapping or an option string, which
    may start with ``bench DRIVER``)."""
    bench = data.get("bench", "lm")
    base = data.get("base") or {}
    if isinstance(base, str):
        words = shlex.split(base)
        if words[:1] == ["bench"]:
            words = words[1:]
        if words and not words[0].startswith("-"):
            bench, words = words[0], words[1:]
        base = _argv_to_options(words)
    if not isinstance(base, dict):
        raise SpaceError("base: expected a mapping of bench options or an option string")
    if not isinstance(bench, str):
        raise SpaceError("bench: expected a workload name (lm, gesture)")
    return bench, dict(base)


def _argv_to_options(words: list[str]) -> dict:
    out: dict[str, Any] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if not w.startswith("--"):
            raise SpaceError(f"base: {w!r} is not an --option")
        key, eq, val = w[2:].partition("=")
        if eq:
            out[key] = val
        elif i + 1 < len(words) and not words[i + 1].startswith("--"):
            out[key] = words[i + 1]
            i += 1
        else:
            out[key] = True
        i += 1
    return out


def _axis_values(name: str, spec) -> list:
    """The values of one axis: a list, ``{from, to, step|num[, log]}`` or ``{random: [lo, hi],
    n, seed[, log, int]}`` / ``{choice: [...], n, seed}``."""
    if isinstance(spec, list):
        values = spec
    elif isinstance(spec, dict) and "random" in spec:
        values = _random_values(name, spec)
    elif isinstance(spec, dict) and "choice" in spec:
        values = _choice_values(name, spec)
    elif isinstance(spec, dict) and "from" in spec:
        values = _range_values(name, spec)
    else:
        raise SpaceError(f"axis {name}: expected a list, {{from, to, step|num}}, "
                         f"{{random: [low, high], n}} or {{choice: [...], n}}, got {spec!r}")
    if not values:
        raise SpaceError(f"axis {name}: empty (no values)")
    for v in values:
        if isinstance(v, dict | list) or v is None:
            raise SpaceError(f"axis {name}: value {v!r} is not a number, string or boolean")
    return list(values)


def _number(name: str, spec: dict, key: str) -> float:
    v = spec.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise SpaceError(f"axis {name}: '{key}' must be a number, got {v!r}")
    return v


def _count(name: str, spec: dict, key: str) -> int:
    v = spec.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise SpaceError(f"axis {name}: '{key}' must be a whole number >= 1, got {v!r}")
    return v


def _range_values(name: str, spec: dict) -> list:
    lo, hi = _number(name, spec, "from"), _number(name, spec, "to")
    if "num" in spec:
        n = _count(name, spec, "num")
        if spec.get("log"):
            if lo <= 0 or hi <= 0:
                raise SpaceError(f"axis {name}: a log range needs from, to > 0")
            vals = [lo * (hi / lo) ** (i / max(n - 1, 1)) for i in range(n)]
        else:
            vals = [lo + (hi - lo) * i / max(n - 1, 1) for i in range(n)]
    else:
        step = _number(name, spec, "step")
        if step <= 0:
            raise SpaceError(f"axis {name}: 'step' must be > 0, got {step!r}")
        n = int(math.floor((hi - lo) / step + 1e-9)) + 1
        vals = [lo + i * step for i in range(max(n, 0))]
    whole = (isinstance(spec["step"], int) if "step" in spec
             else all(abs(v - round(v)) < 1e-9 for v in vals))
    ints = isinstance(lo, int) and isinstance(hi, int) and whole
    return [int(round(v)) if ints else float(f"{v:.12g}") for v in vals]


def _random_values(name: str, spec: dict) -> list:
    bounds = spec["random"]
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)):
        raise SpaceError(f"axis {name}: 'random' must be [low, high], got {bounds!r}")
    lo, hi = bounds
    n = _count(name, spec, "n")
    rng = random.Random(spec.get("seed", 0))
    if spec.get("int"):
        return [rng.randint(int(lo), int(hi)) for _ in range(n)]
    if spec.get("log"):
        if lo <= 0 or hi <= 0:
            raise SpaceError(f"axis {name}: a log random axis needs low, high > 0")
        return [float(f"{math.exp(rng.uniform(math.log(lo), math.log(hi))):.6g}")
                for _ in range(n)]
    return [float(f"{rng.uniform(lo, hi):.6g}") for _ in range(n)]


def _choice_values(name: str, spec: dict) -> list:
    choices = spec["choice"]
    if not isinstance(choices, list) or not choices:
        raise SpaceError(f"axis {name}: 'choice' must be a non-empty list")
    rng = random.Random(spec.get("seed", 0))
    return [rng.choice(choices) for _ in range(_count(name, spec, "n"))]


def _check_option(what: str, name: str, value, options: dict[str, argparse.Action]) -> None:
    """One value of a bench option: a known option, of its type, among its choices."""
    dest = _dest(name)
    if dest in RESERVED:
        raise SpaceError(f"{what} {name}: set by the sweep itself, not an axis")
    action = options.get(dest)
    if action is None:
        known = ", ".join(sorted(d.replace("_", "-") for d in options if d not in RESERVED))
        raise SpaceError(f"{what} {name}: unknown bench option; known: {known}, "
                         f"{SET_PREFIX}<spec path>, {COMPILE_PREFIX}<{'|'.join(COMPILE_TYPES)}>")
    if action.nargs == 0:
        if not isinstance(value, bool):
            raise SpaceError(f"{what} {name}: a flag takes true or false, got {value!r}")
        return
    if isinstance(value, bool):
        raise SpaceError(f"{what} {name}: value {value!r} is a boolean, the option takes a value")
    text = _cli_text(value)
    if callable(action.type):
        try:
            conv = action.type(text)
        except Exception:  # argparse types raise ValueError, TypeError or their own
            tname = getattr(action.type, "__name__", "value")
            raise SpaceError(f"{what} {name}: value {value!r} is not a valid {tname}") from None
    else:
        conv = text
    if action.choices is not None and conv not in action.choices:
        raise SpaceError(f"{what} {name}: value {value!r} not one of "
                         f"{', '.join(map(str, action.choices))}")


def _check_compile(what: str, name: str, value) -> None:
    key = name[len(COMPILE_PREFIX):]
    typ = COMPILE_TYPES.get(key)
    if typ is None:
        raise SpaceError(f"{what} {name}: unknown compiler keyword; known: "
                         f"{', '.join(COMPILE_PREFIX + k for k in COMPILE_TYPES)}")
    ok = (isinstance(value, bool) if typ is bool else
          isinstance(value, int) and not isinstance(value, bool) if typ is int else
          isinstance(value, int | float) and not isinstance(value, bool))
    if not ok:
        raise SpaceError(f"{what} {name}: value {value!r} is not a {typ.__name__}")


def _check_set(what: str, name: str, value) -> None:
    from s2sim.spec import load_spec

    path = name[len(SET_PREFIX):]
    if isinstance(value, bool):
        raise SpaceError(f"{what} {name}: value {value!r}: spec fields take numbers or strings")
    try:
        load_spec(None, {path: _cli_text(value)})
    except S2SimError as exc:
        raise SpaceError(f"{what} {name}: {exc}") from None


def check_value(what: str, name: str, value, options: dict[str, argparse.Action]) -> None:
    if name.startswith(SET_PREFIX):
        _check_set(what, name, value)
    elif name.startswith(COMPILE_PREFIX):
        _check_compile(what, name, value)
    else:
        _check_option(what, name, value, options)


def _constraints(data) -> list[Constraint]:
    raw = data or []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise SpaceError("constraints: expected a list like ['latency_per_token_s <= 5e-3']")
    out = []
    for text in raw:
        m = _CONSTRAINT.match(str(text))
        if not m:
            raise SpaceError(f"constraint {text!r}: expected 'METRIC <= NUMBER' (<, >, >=, ==)")
        try:
            value = float(m.group(3))
        except ValueError:
            raise SpaceError(f"constraint {text!r}: {m.group(3)!r} is not a number") from None
        try:
            metric = metric_name(m.group(1))
        except SpaceError as exc:
            raise SpaceError(f"constraint {text!r}: {exc}") from None
        out.append(Constraint(metric, m.group(2), value, str(text)))
    return out


def pareto_metrics(raw) -> list[str]:
    names = raw if raw is not None else DEFAULT_PARETO
    if isinstance(names, str):
        names = [s for s in re.split(r"[,\s]+", names) if s]
    if not isinstance(names, list) or not 2 <= len(names) <= 3:
        raise SpaceError(f"pareto: expected 2 or 3 metrics, got {names!r}")
    return [("max:" + metric_name(n[4:])) if str(n).startswith("max:") else metric_name(n)
            for n in names]


def _sample(points: list[dict], spec) -> list[dict]:
    if spec is None:
        return points
    if not isinstance(spec, dict):
        raise SpaceError("sample: expected {n: N, seed: S}")
    n = spec.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SpaceError(f"sample: 'n' must be a whole number >= 1, got {n!r}")
    if n >= len(points):
        return points
    idx = sorted(random.Random(spec.get("seed", 0)).sample(range(len(points)), n))
    return [points[i] for i in idx]


def parse_space(space) -> Space:
    """Parse and validate a space (YAML path or mapping); :class:`SpaceError` names the fault."""
    data, source = _load_yaml(space)
    unknown = set(data) - {"bench", "base", "axes", "sample", "constraints", "pareto", "name"}
    if unknown:
        raise SpaceError(f"space {source}: unknown key(s) {', '.join(sorted(map(str, unknown)))}"
                         " (known: bench, base, axes, sample, constraints, pareto)")
    bench, base = _base_options(data)
    # each point runs --no-plots --quiet anyway: saying so in the base is harmless
    base = {k: v for k, v in base.items() if _dest(k) not in ("no_plots", "quiet")}
    options = _options(bench_parser(bench))
    for k, v in base.items():
        check_value("base option", str(k), v, options)
    axes_raw = data.get("axes")
    if not isinstance(axes_raw, dict) or not axes_raw:
        raise SpaceError(f"space {source}: 'axes' must be a non-empty mapping of name: values")
    axes: dict[str, list] = {}
    for name, spec in axes_raw.items():
        name = str(name)
        values = _axis_values(name, spec)
        for v in {_cli_text(x): x for x in values}.values():
            check_value("axis", name, v, options)
        axes[name] = values
    grid = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]
    return Space(bench=bench, base=base, axes=axes, points=_sample(grid, data.get("sample")),
                 constraints=_constraints(data.get("constraints")),
                 pareto=pareto_metrics(data.get("pareto")), source=source)


# ---------------------------------------------------------------------------------------------
# points: options, argv, cache keys


def _cli_text(value) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass
class Point:
    """One run: its axis values, bench argv, spec overrides and compiler keywords, and key."""

    index: int
    values: dict[str, Any]
    argv: list[str]
    spec_overrides: dict[str, str]
    compile_kw: dict[str, Any]
    key: str = ""

    @property
    def label(self) -> str:
        return " ".join(f"{k}={_cli_text(v)}" for k, v in self.values.items())


def make_point(space: Space, index: int, values: dict, options: dict) -> Point:
    argv: list[str] = []
    overrides: dict[str, str] = {}
    compile_kw: dict[str, Any] = {}
    for name, value in {**space.base, **values}.items():
        name = str(name)
        if name.startswith(SET_PREFIX):
            overrides[name[len(SET_PREFIX):]] = _cli_text(value)
        elif name.startswith(COMPILE_PREFIX):
            compile_kw[name[len(COMPILE_PREFIX):]] = value
        elif options[_dest(name)].nargs == 0:
            argv += [options[_dest(name)].option_strings[-1]] if value else []
        else:
            argv += [options[_dest(name)].option_strings[-1], _cli_text(value)]
    # spec overrides and compiler keywords go to the bench's own --set / --compile-option
    for dest, flag, items in (("set", "--set", overrides),
                              ("compile_option", "--compile-option", compile_kw)):
        if items and dest not in options:
            raise SpaceError(f"axis {next(iter(items))}: bench {space.bench} takes no {flag}")
        argv += [x for k, v in sorted(items.items()) for x in (flag, f"{k}={_cli_text(v)}")]
    return Point(index, dict(values), argv, overrides, compile_kw)


_SOURCE_HASH: str | None = None


def source_fingerprint() -> str:
    """s2sim's version and a hash of its Python sources (and the bundled spec): any change to
    the simulator invalidates the cache (the sweep's own two modules excepted)."""
    global _SOURCE_HASH
    if _SOURCE_HASH is None:
        import s2sim

        root = Path(s2sim.__file__).resolve().parent.parent
        h = hashlib.sha256()
        for pkg in ("s2sim", "firmware_py", "models"):
            for f in sorted((root / pkg).rglob("*.py")) + sorted((root / pkg).rglob("*.yaml")):
                if f.name == "sweep.py":  # the sweep's own code does not change a report
                    continue
                h.update(str(f.relative_to(root)).encode())
                h.update(f.read_bytes())
        _SOURCE_HASH = h.hexdigest()[:16]
    return f"{_version()}+{_SOURCE_HASH}"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("s2sim")
    except Exception:  # not installed as a distribution (a source checkout on sys.path)
        return "unknown"


def _model_file(bench: str, model: str) -> Path | None:
    """The checkpoint file a ``--model`` value names, where there is one."""
    p = Path(model)
    if p.is_file():
        return p
    with contextlib.suppress(Exception):
        from models.egru.checkpoint import NAMED_CHECKPOINTS, named_checkpoint_path

        if model in NAMED_CHECKPOINTS:
            return Path(named_checkpoint_path(model))
    if bench == "gesture" and model == "shipped":
        with contextlib.suppress(Exception):
            from models.egru.gesture.model import DEFAULT_CHECKPOINT

            return Path(DEFAULT_CHECKPOINT)
    return None


def _files_in(argv: list[str], bench: str, model_default) -> dict[str, str]:
    """sha256 of every file the point's options name (the model, a spec, measured GPUs...)."""
    from models.egru.data import sha256_file

    files: dict[str, str] = {}
    model = argv[argv.index("--model") + 1] if "--model" in argv else model_default
    if model is not None:
        mf = _model_file(bench, str(model))
        files["model"] = sha256_file(mf) if mf is not None else f"(no file: {model})"
    for tok in argv:
        if not tok.startswith("-") and Path(tok).is_file():
            files[tok] = sha256_file(Path(tok))
    return files


def point_key(space: Space, point: Point, options: dict) -> str:
    """Hash of everything that determines a point's report."""
    from s2sim.spec import bundled_spec_text

    model_default = options["model"].default if "model" in options else None
    blob = {
        "s2sim": source_fingerprint(), "bench": space.bench, "argv": point.argv,
        "spec_overrides": dict(sorted(point.spec_overrides.items())),
        "compile": {k: point.compile_kw[k] for k in sorted(point.compile_kw)},
        "files": _files_in(point.argv, space.bench, model_default),
        "bundled_spec": hashlib.sha256(bundled_spec_text().encode()).hexdigest(),
        "S2SIM_DATA": os.environ.get("S2SIM_DATA", ""),
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:20]


def make_points(space: Space) -> list[Point]:
    options = _options(bench_parser(space.bench))
    points = [make_point(space, i, v, options) for i, v in enumerate(space.points)]
    for p in points:
        p.key = point_key(space, p, options)
    return points


# ---------------------------------------------------------------------------------------------
# running one point (on a Dask worker or in this process)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, S2SimError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


def run_point(task: dict) -> dict:
    """Run one point's bench in-process into a scratch folder; return its status, timing and
    the report's JSON text (the caller stores it, so workers need no shared file system)."""
    from s2sim.cli import build_parser

    t0 = time.perf_counter()
    out = {"key": task["key"], "status": "ok", "error": "", "report_json": None}
    buf = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="s2sim-sweep-") as tmp:
        argv = ["bench", task["bench"], *task["argv"], "--out", tmp, "--no-plots", "--quiet"]
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                args = build_parser().parse_args(argv)
                rc = int(args.func(args) or 0)
            if rc != 0:
                raise S2SimError(f"bench exited with status {rc}")
            out["report_json"] = (Path(tmp) / "report.json").read_text(encoding="utf-8")
        except SystemExit:  # argparse: the message went to buf
            lines = [x for x in buf.getvalue().splitlines() if x.strip()]
            out.update(status="error", error=lines[-1] if lines else "bad bench options")
        except Exception as exc:  # any failure of the point is recorded, the sweep goes on
            out.update(status="error", error=_one_line(exc))
    out["wall_s"] = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------------------------------
# the store: OUT/points/<key>/{point.json, report.json}


def _point_dir(out: Path, key: str) -> Path:
    return out / "points" / key


def load_cached(out: Path, point: Point) -> dict | None:
    """The stored result of a point, or None where it is missing or unreadable."""
    d = _point_dir(out, point.key)
    try:
        meta = json.loads((d / "point.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("key") != point.key:
        return None
    if meta.get("status") == "ok" and not (d / "report.json").is_file():
        return None
    return meta


def store_result(out: Path, point: Point, result: dict) -> dict:
    from s2sim.atomic import write_text_atomic

    d = _point_dir(out, point.key)
    d.mkdir(parents=True, exist_ok=True)
    if result.get("report_json"):
        write_text_atomic(d / "report.json", result["report_json"])
    meta = {"key": point.key, "label": point.label, "values": point.values, "argv": point.argv,
            "spec_overrides": point.spec_overrides, "compile_kw": point.compile_kw,
            "status": result["status"], "error": result["error"],
            "wall_s": round(float(result.get("wall_s", 0.0)), 3), "s2sim": source_fingerprint()}
    write_text_atomic(d / "point.json", json.dumps(meta, indent=1, default=str) + "\n")
    return meta


def _row(space: Space, out: Path, point: Point, meta: dict, cached: bool) -> dict:
    from s2sim.report.io import load_report

    row: dict[str, Any] = {"point": point.index, **point.values, "status": meta["status"],
                           "error": meta.get("error", "")}
    metrics = dict.fromkeys(METRICS)
    report_path = ""
    if meta["status"] == "ok":
        rp = _point_dir(out, point.key) / "report.json"
        try:
            metrics.update(report_metrics(load_report(rp)))
            report_path = str(rp)
        except S2SimError as exc:
            row.update(status="error", error=_one_line(exc))
    row.update(metrics)
    row["feasible"] = row["status"] == "ok" and all(c.holds(row) for c in space.constraints)
    row.update(wall_s=meta.get("wall_s"), cached=cached, report=report_path, key=point.key)
    return row


# ---------------------------------------------------------------------------------------------
# Pareto analysis


def _value(row: dict, metric: str) -> float | None:
    name, sign = (metric[4:], -1.0) if metric.startswith("max:") else (metric, 1.0)
    v = row.get(name)
    if v is None or isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
        return None
    return sign * float(v)


def pareto_front(rows: list[dict], metrics: list[str]) -> list[int]:
    """Indices of the non-dominated rows for ``metrics`` (all minimised; ``max:NAME``
    maximised). Rows lacking a metric are left out; equal rows are all kept."""
    vecs = []
    for i, r in enumerate(rows):
        v = [_value(r, m) for m in metrics]
        if all(x is not None for x in v):
            vecs.append((i, v))
    front = []
    for i, a in vecs:
        dominated = any(all(y <= x for x, y in zip(a, b, strict=True)) and b != a
                        for _, b in vecs)
        if not dominated:
            front.append(i)
    return front


# ---------------------------------------------------------------------------------------------
# the sweep


@dataclass
class SweepResult:
    space: Space
    out: Path
    rows: list[dict]
    front: list[int]  # indices into rows
    computed: int
    cached: int
    failed: int
    wall_s: float
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def front_rows(self) -> list[dict]:
        return [self.rows[i] for i in self.front]


def _client(scheduler: str | None, workers: int):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise S2SimError("the sweep runs on dask.distributed: pip install -e '.[sweep]' "
                         "(or --workers 0 to run the points one by one here)") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=30), None
        except (OSError, TimeoutError) as exc:
            raise S2SimError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    import logging

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _task(space: Space, p: Point) -> dict:
    return {"key": p.key, "bench": space.bench, "argv": p.argv,
            "spec_overrides": p.spec_overrides, "compile_kw": p.compile_kw}


def _bar(total: int, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="sweep", unit="pt", disable=not progress or total == 0,
                dynamic_ncols=True, file=sys.stderr)


def _run_sequential(space, todo, out, bar) -> None:
    for p in todo:
        res = run_point(_task(space, p))
        store_result(out, p, res)
        bar.set_postfix_str(f"last: {res['status']} {p.label}"[:60])
        bar.update(1)


def _run_dask(space, todo, out, bar, scheduler, workers) -> None:
    from dask.distributed import as_completed

    client, cluster = _client(scheduler, workers)
    futures = {}
    try:
        for p in todo:
            futures[client.submit(run_point, _task(space, p), key=f"s2sim-point-{p.key}",
                                  pure=False)] = p
        for fut in as_completed(futures):
            p = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # the worker died: record it, but do not cache it
                bar.write(f"point {p.index} ({p.label}): worker failed: {_one_line(exc)}")
                bar.update(1)
                continue
            store_result(out, p, res)
            bar.set_postfix_str(f"last: {res['status']} {p.label}"[:60])
            bar.update(1)
    finally:
        for f in futures:
            f.cancel()
        client.close()
        if cluster is not None:
            cluster.close()


def run(space, out: str | Path | None = None, *, scheduler: str | None = None,
        workers: int | None = None, force: bool = False, progress: bool | None = None,
        compute: bool = True, plots: bool = True) -> SweepResult:
    """Run a sweep: every point not yet stored under ``out`` (all with ``force``), on Dask
    (``scheduler`` address, else a LocalCluster of ``workers`` processes; ``workers=0`` runs
    the points one by one in this process); then the table, the Pareto front and the plots.
    ``compute=False`` only analyses what is stored."""
    t0 = time.perf_counter()
    sp = space if isinstance(space, Space) else parse_space(space)
    out = Path(out) if out is not None else Path("runs") / f"sweep-{Path(sp.source).stem}"
    points = make_points(sp)
    have = {} if force else {p.key: m for p in points if (m := load_cached(out, p)) is not None}
    todo = list({p.key: p for p in points if p.key not in have}.values()) if compute else []
    if progress is None:
        progress = sys.stderr.isatty()
    workers = os.cpu_count() or 1 if workers is None else workers
    with _bar(len(todo), progress) as bar:
        if todo and (scheduler or workers > 0):
            _run_dask(sp, todo, out, bar, scheduler, workers)
        elif todo:
            _run_sequential(sp, todo, out, bar)
    rows, done = [], {p.key for p in todo}
    for p in points:
        meta = load_cached(out, p)
        if meta is None:
            meta = {"status": "missing", "error": "not computed"}
        rows.append(_row(sp, out, p, meta, cached=p.key not in done))
    front = pareto_front([r if r["feasible"] else {} for r in rows], sp.pareto)
    for i, r in enumerate(rows):
        r["pareto"] = i in front
    res = SweepResult(sp, out, rows, front, computed=sum(r["status"] != "missing" for r in rows
                                                         if not r["cached"]),
                      cached=sum(bool(r["cached"]) and r["status"] != "missing" for r in rows),
                      failed=sum(r["status"] == "error" for r in rows),
                      wall_s=time.perf_counter() - t0)
    res.files = write_outputs(res, plots=plots)
    return res


# ---------------------------------------------------------------------------------------------
# outputs: table (CSV + Parquet), front, plots


def _columns(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return cols


def _typed_column(values: list):
    """A column's values as one Arrow-friendly type (mixed axis values become strings)."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        return values
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return [None if v is None else float(v) if any(isinstance(x, float) for x in present)
                else v for v in values]
    return [None if v is None else _cli_text(v) for v in values]


def write_table(rows: list[dict], out: Path) -> dict[str, Path]:
    from s2sim.atomic import write_text_atomic

    cols = _columns(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r.get(k) for k in cols})
    files = {"csv": write_text_atomic(out / "sweep.csv", buf.getvalue())}
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        print("s2sim sweep: pyarrow not installed (pip install -e '.[sweep]'): "
              "table written as CSV only", file=sys.stderr)
        return files
    table = pa.table({c: _typed_column([r.get(c) for r in rows]) for c in cols})
    tmp = out / ".sweep.parquet.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, out / "sweep.parquet")
    files["parquet"] = out / "sweep.parquet"
    return files


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def front_text(res: SweepResult) -> str:
    """The Pareto front as a table (sorted by the first metric)."""
    metrics = [m[4:] if m.startswith("max:") else m for m in res.space.pareto]
    axes = list(res.space.axes)
    cols = ["point", *axes, *metrics, "pes_used"]
    cols = list(dict.fromkeys(cols))
    rows = sorted(res.front_rows, key=lambda r: _value(r, res.space.pareto[0]) or 0.0)
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(x[i]) for x in cells]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(x.rjust(w) for x, w in zip(c, widths, strict=True)) for c in cells]
    head = (f"Pareto front ({' vs '.join(res.space.pareto)}; {len(rows)} of "
            f"{sum(r['feasible'] for r in res.rows)} feasible points"
            + (f", constraints: {'; '.join(c.text for c in res.space.constraints)}"
               if res.space.constraints else "") + ")")
    return "\n".join([head, *lines])


def write_outputs(res: SweepResult, plots: bool = True) -> dict[str, Path]:
    from s2sim.atomic import write_text_atomic

    res.out.mkdir(parents=True, exist_ok=True)
    files = write_table(res.rows, res.out)
    files["front"] = write_text_atomic(res.out / "front.txt", front_text(res) + "\n")
    if plots:
        files.update(write_plots(res))
    return files


def _short(label: str, n: int = 40) -> str:
    return label if len(label) <= n else label[: n - 1] + "~"


def _plot_front(res: SweepResult, plt) -> Path:
    m = [x[4:] if x.startswith("max:") else x for x in res.space.pareto]
    ok = [r for r in res.rows if r["status"] == "ok" and all(_ok_num(r.get(k)) for k in m)]
    fig, ax = plt.subplots(figsize=(8, 6))
    xs, ys = [r[m[0]] for r in ok], [r[m[1]] for r in ok]
    colour = [r[m[2]] for r in ok] if len(m) == 3 else ["tab:blue" if r["feasible"] else
                                                        "lightgray" for r in ok]
    sc = ax.scatter(xs, ys, c=colour, s=30, alpha=0.8,
                    label="points" + ("" if len(m) == 3 else " (grey: fail a constraint)"))
    if len(m) == 3:
        fig.colorbar(sc, ax=ax, label=m[2])
    front = sorted(res.front_rows, key=lambda r: (r[m[0]], r[m[1]]))
    ax.plot([r[m[0]] for r in front], [r[m[1]] for r in front], "-o", color="tab:red",
            mfc="none", ms=9, label="Pareto front", drawstyle="steps-post" if len(m) == 2
            else "default")
    for r in front:  # short axis names: compile.cycle_headroom -> cycle_headroom
        label = ", ".join(f"{k.rsplit('.', 1)[-1]}={_fmt(r.get(k))}" for k in res.space.axes)
        ax.annotate(f"#{r['point']} {_short(label, 60)}", (r[m[0]], r[m[1]]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel(m[0])
    ax.set_ylabel(m[1])
    ax.set_title(f"{Path(res.space.source).name}: {len(ok)} points, {len(front)} on the front")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = res.out / "front.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _ok_num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and not math.isnan(v)


def _plot_axis(res: SweepResult, axis: str, plt) -> Path:
    metrics = [x[4:] if x.startswith("max:") else x for x in res.space.pareto]
    levels = list(dict.fromkeys(_cli_text(v) for v in res.space.axes[axis]))
    fig, axs = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.8), squeeze=False)
    for ax, m in zip(axs[0], metrics, strict=True):
        pts = [(levels.index(_cli_text(r[axis])), r[m]) for r in res.rows
               if r["status"] == "ok" and _ok_num(r.get(m)) and _cli_text(r[axis]) in levels]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=18, alpha=0.6)
        best = {}
        for x, y in pts:
            best[x] = min(best.get(x, y), y)
        xs = sorted(best)
        ax.plot(xs, [best[x] for x in xs], "-", color="tab:red", label="best")
        ax.set_xticks(range(len(levels)), levels, rotation=30)
        ax.set_xlabel(axis)
        ax.set_ylabel(m)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"sensitivity to {axis} (each dot a point; line: best at each value)")
    fig.tight_layout()
    path = res.out / f"sensitivity-{re.sub(r'[^A-Za-z0-9_.-]', '_', axis)}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_plots(res: SweepResult) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    if any(r["status"] == "ok" for r in res.rows):
        files["front_png"] = _plot_front(res, plt)
        for axis in res.space.axes:
            files[f"sensitivity_{axis}"] = _plot_axis(res, axis, plt)
    return files
