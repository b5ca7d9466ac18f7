"""The GPUs the S2 runs are compared against, every number with its source and its range.

The numbers live in ``gpus.yaml`` next to this module, in the chip spec's sourced format
(``{value, source, note}`` plus an optional ``low``/``high`` range); its header lists the source
tags (DS-* datasheets, CAL calibrated against ``s2sim.baselines.measurements``, EST estimates
with the reasoning in ``note``). This module loads them into the dataclasses below.

Power is split into three parts (``s2sim.baselines.modelled`` uses them per kernel):
  idle_power_w          powered, CUDA context loaded, clocks up, no kernel running
  memory_bound_power_w  a kernel that keeps DRAM streaming at the achievable bandwidth while the
                        ALUs are mostly waiting (a batch-1 gemv); measured batch-1 LLM decoding
                        draws 35-55 % of TDP on H100 and 4090 boards (measurements.py)
  board_power_w         a compute-bound kernel (TDP / TGP / module max)

Every number has a ``low``/``high`` range (default: the value itself). The GPU figures' band is
the model evaluated at the GPU-favourable end of every range (low) and at the unfavourable end
(high): latency and energy are monotone in every parameter, so these are the extremes of the box.

FP32 peaks are the non-tensor-core FP32 rates (why: gpus.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import yaml

from s2sim.errors import S2SimError


@dataclass(frozen=True)
class SourcedNumber:
    """One number with where it comes from (``note`` says how an EST was derived) and its range.

    ``low``/``high`` bound the number (None: no spread, the value itself); where they are given,
    ``note`` says where they come from.
    """

    value: float
    source: str
    note: str = ""
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if self.source == "EST" and not self.note:
            raise ValueError("an EST number needs a note saying how it was derived")
        if not self.lo <= self.value <= self.hi:
            raise ValueError(f"range [{self.lo}, {self.hi}] does not hold the value {self.value}")

    @property
    def lo(self) -> float:
        return self.value if self.low is None else self.low

    @property
    def hi(self) -> float:
        return self.value if self.high is None else self.high

    def pick(self, end: str) -> float:
        """``end`` "value" | "low" | "high": the central value or one end of the range."""
        return {"value": self.value, "low": self.lo, "high": self.hi}[end]


# the numbers of a GpuSpec that go into the model, in report order
PARAMETERS = (
    "memory_bandwidth_bytes_per_s",
    "fp32_peak_flops_per_s",
    "board_power_w",
    "idle_power_w",
    "kernel_launch_s",
    "bandwidth_efficiency",
    "memory_bound_power_w",
    "graph_launch_s",
)


@dataclass(frozen=True)
class GpuSpec:
    """What the analytic batch-1 model needs to know about one GPU."""

    key: str  # short name used on the command line (--gpus a100,h100)
    name: str
    memory_bandwidth_bytes_per_s: SourcedNumber
    fp32_peak_flops_per_s: SourcedNumber
    board_power_w: SourcedNumber  # TDP / TGP / module max: power of a compute-bound kernel
    idle_power_w: SourcedNumber  # powered, context loaded, no kernel running
    kernel_launch_s: SourcedNumber  # fixed cost per kernel launch, eager (driver + dispatcher)
    bandwidth_efficiency: SourcedNumber  # achievable share of the datasheet bandwidth
    # power of a memory-bound kernel streaming at the achievable bandwidth (None: board power)
    memory_bound_power_w: SourcedNumber | None = None
    # per-kernel cost when the token's kernels are replayed as one CUDA graph (None: no graph row)
    graph_launch_s: SourcedNumber | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def memory_power(self) -> SourcedNumber:
        return self.memory_bound_power_w or self.board_power_w

    def sources(self) -> dict[str, dict[str, object]]:
        """Every number of this GPU with its source and range, for reports and `--help` tables."""
        out: dict[str, dict[str, object]] = {}
        for name in PARAMETERS:
            num: SourcedNumber | None = getattr(self, name)
            if num is None:
                continue
            out[name] = {"value": num.value, "low": num.lo, "high": num.hi,
                         "source": num.source, "note": num.note}
        return out


GPUS_FILE = "gpus.yaml"  # package data next to this module


def _number(data: object, where: str) -> SourcedNumber:
    """One ``{value, source, note, low, high}`` mapping of gpus.yaml as a SourcedNumber."""
    if not isinstance(data, dict) or not {"value", "source"} <= set(data):
        raise S2SimError(f"{GPUS_FILE}: {where}: expected {{value: ..., source: ..., note: ...}}, "
                         f"got {data!r}")
    unknown = set(data) - {"value", "source", "note", "low", "high"}
    if unknown:
        raise S2SimError(f"{GPUS_FILE}: {where}: unknown field {sorted(unknown)[0]!r}")
    bounds = {}
    for name in ("value", "low", "high"):
        num = data.get(name)
        if num is not None and (isinstance(num, bool) or not isinstance(num, int | float)):
            raise S2SimError(f"{GPUS_FILE}: {where}.{name}: expected a number, got {num!r}")
        bounds[name] = None if num is None else float(num)
    try:
        return SourcedNumber(bounds["value"], str(data["source"]), str(data.get("note", "")),
                             low=bounds["low"], high=bounds["high"])
    except ValueError as exc:
        raise S2SimError(f"{GPUS_FILE}: {where}: {exc}") from None


def _gpu(key: str, data: object) -> GpuSpec:
    if not isinstance(data, dict) or "name" not in data:
        raise S2SimError(f"{GPUS_FILE}: gpus.{key}: expected a mapping with a name, got {data!r}")
    unknown = set(data) - {"name", *PARAMETERS}
    if unknown:
        raise S2SimError(f"{GPUS_FILE}: gpus.{key}: unknown field {sorted(unknown)[0]!r}")
    numbers = {name: _number(data[name], f"gpus.{key}.{name}")
               for name in PARAMETERS if data.get(name) is not None}
    try:
        return GpuSpec(key=key, name=str(data["name"]), **numbers)
    except TypeError as exc:  # a required number missing
        raise S2SimError(f"{GPUS_FILE}: gpus.{key}: {exc}") from None


def load_gpus(text: str | None = None) -> dict[str, GpuSpec]:
    """The GPU table from gpus.yaml (or from ``text``, the same format), keyed by GPU key."""
    if text is None:
        text = resources.files("s2sim.baselines").joinpath(GPUS_FILE).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("gpus"), dict):
        raise S2SimError(f"{GPUS_FILE}: expected a top-level mapping 'gpus' of GPU key -> specs")
    return {str(key): _gpu(str(key), spec) for key, spec in data["gpus"].items()}


GPUS: dict[str, GpuSpec] = load_gpus()

DEFAULT_GPUS = ("a100", "h100", "h200", "rtx4090", "orin")


def parse_gpu_list(text: str) -> list[GpuSpec]:
    """``"a100,orin"`` -> specs; ``"none"`` or ``""`` -> []; unknown names -> one-line error."""
    text = text.strip().lower()
    if text in ("", "none"):
        return []
    if text == "all":
        return [GPUS[k] for k in DEFAULT_GPUS]
    out = []
    for key in (t.strip() for t in text.split(",")):
        if key not in GPUS:
            raise S2SimError(f"--gpus: unknown GPU {key!r}; known: {', '.join(GPUS)}, all, none")
        out.append(GPUS[key])
    return out
