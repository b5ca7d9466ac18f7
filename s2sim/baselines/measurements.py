"""Public measurements of GPU power in batch-1 (single-stream) inference, kept apart from the
model's parameters (``s2sim.baselines.gpus``), and the model's error against each.

Each point is a measured average board power of a workload that, like batch-1 EGRU inference,
streams weights from DRAM with the ALUs mostly waiting. The model predicts it from the same power
curve as ``s2sim.baselines.modelled``:

    P = idle + (memory_bound_power - idle) x u

where ``u`` is the share of the time the DRAM streams at the achievable bandwidth. Where the
source gives the throughput and the bytes per token, ``u`` is computed from them
(bytes x tokens/s / (bandwidth x efficiency), clipped to 1); otherwise it is an estimate stated
with the point. An idle point has ``u = 0``.

    python -m s2sim.baselines.measurements      # prints the table (docs/bench.md quotes it)

``tests/s2sim/baselines/test_measurements.py`` recomputes every error and bounds it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from s2sim.baselines.gpus import GPUS


@dataclass(frozen=True)
class PublicMeasurement:
    gpu_key: str
    source: str  # URL or citation
    workload: str
    batch: int
    measured_power_w: float
    # share of time DRAM-bound at the achievable bandwidth: a number, or None to compute it
    # from ``tokens_per_s`` and ``bytes_per_token``
    busy_share: float | None = None
    tokens_per_s: float | None = None
    bytes_per_token: float | None = None
    note: str = ""  # how busy_share / bytes_per_token were derived; caveats of the source
    primary: bool = True  # False: a secondary summary whose primary figure was not checked

    def share(self) -> float:
        if self.busy_share is not None:
            return self.busy_share
        gpu = GPUS[self.gpu_key]
        bw = gpu.memory_bandwidth_bytes_per_s.value * gpu.bandwidth_efficiency.value
        return min(1.0, self.bytes_per_token * self.tokens_per_s / bw)

    def modelled_power_w(self) -> float:
        gpu = GPUS[self.gpu_key]
        idle = gpu.idle_power_w.value
        return idle + (gpu.memory_power.value - idle) * self.share()

    def error(self) -> float:
        """(modelled - measured) / measured."""
        return self.modelled_power_w() / self.measured_power_w - 1.0


MEASUREMENTS: tuple[PublicMeasurement, ...] = (
    PublicMeasurement(
        gpu_key="h100",
        source="Serial Alice GPU energy benchmark, http://api.serialalice.pt/alice-benchmark "
               "(NVIDIA H100 SXM 80 GB, vLLM, BF16/GPTQ/AWQ, batch 1 to 128: 267-680 W)",
        workload="LLM decoding (vLLM, 8 models), lowest power of the batch ladder",
        batch=1,
        measured_power_w=267.0,
        busy_share=0.75,
        note="267 W is the low end of the published 267-680 W range over b1..b128, i.e. the "
             "batch-1 point; vLLM runs decode steps as CUDA graphs, EST 75 % of the step "
             "streaming weights at the achievable bandwidth (the rest: attention, sampling)",
    ),
    PublicMeasurement(
        gpu_key="h100",
        source="ML.ENERGY benchmark (Chung et al., arXiv 2505.06371; arXiv 2601.22076), as "
               "summarised in s2sim issue 11: H100 SXM near 300 W of 700 W at batch 1",
        workload="LLM decoding (vLLM), batch 1",
        batch=1,
        measured_power_w=300.0,
        busy_share=0.75,
        note="the stored copies of the primary papers reached here do not include the power-vs-"
             "batch figure's numbers: this is the secondary summary's value, not checked",
        primary=False,
    ),
    PublicMeasurement(
        gpu_key="rtx4090",
        source="https://github.com/noonghunna/club-3090/issues/697 (RTX 4090, vLLM, "
               "Qwen3-4B-Instruct-2507 fp8, decode-single, nvidia-smi)",
        workload="single-stream LLM decoding, 138 tok/s, power cap 390-410 W not reached",
        batch=1,
        measured_power_w=246.6,
        tokens_per_s=138.3,
        bytes_per_token=4.38e9,
        note="bytes per token EST: 3.6 G non-embedding parameters at 1 byte (fp8) + the tied "
             "0.39 G-parameter embedding as the output head at 2 bytes (bf16)",
    ),
    PublicMeasurement(
        gpu_key="h200",
        source="Serial Alice GPU energy benchmark, http://api.serialalice.pt/alice-benchmark "
               "(NVIDIA H200 SXM 141 GB, 'ghost power': 80.3 W idle vs 592.8 W at load)",
        workload="idle with a model loaded (vLLM, Phi-3-mini)",
        batch=0,
        measured_power_w=80.3,
        busy_share=0.0,
        note="an idle point: calibrates idle_power_w",
    ),
)


def calibration_rows() -> list[dict[str, object]]:
    return [
        {"gpu": m.gpu_key, "workload": m.workload, "batch": m.batch,
         "measured_w": m.measured_power_w, "busy_share": round(m.share(), 3),
         "modelled_w": round(m.modelled_power_w(), 1), "error": m.error(),
         "primary": m.primary, "source": m.source}
        for m in MEASUREMENTS
    ]


def main() -> int:
    print("| GPU | workload | batch | measured | memory-busy share | modelled | error | source |")
    print("|---|---|---|---|---|---|---|---|")
    for r in calibration_rows():
        flag = "" if r["primary"] else " (secondary)"
        print(f"| {r['gpu']} | {r['workload']} | {r['batch']} | {r['measured_w']:.1f} W | "
              f"{r['busy_share']:.2f} | {r['modelled_w']:.1f} W | {r['error']:+.1%} | "
              f"{r['source']}{flag} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
