"""The result of one GPU baseline (modelled or measured), as it goes into reports."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# The LM is scored on 70-token sequences (BPTT length of the reference recipe): reports give
# every per-token figure also per sequence of this many tokens.
SEQUENCE_TOKENS = 70


class GpuBaselineResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gpu_key: str
    gpu_name: str
    method: str = Field(description='"modelled" or "measured"')
    label: str = Field(description='"modelled", "modelled, CUDA graph", "measured on <device>" '
                       'or "measured on <device>, CUDA graph"')
    model_name: str
    latency_per_token_s: float
    energy_per_token_j: float
    average_power_w: float
    latency_per_sequence_s: float
    energy_per_sequence_j: float
    # the band (modelled rows: the model at the favourable / unfavourable end of every
    # parameter's range, s2sim.baselines.modelled); None where there is none (measured rows)
    latency_per_token_low_s: float | None = None
    latency_per_token_high_s: float | None = None
    energy_per_token_low_j: float | None = None
    energy_per_token_high_j: float | None = None
    average_power_low_w: float | None = None
    average_power_high_w: float | None = None
    latency_per_sequence_low_s: float | None = None
    latency_per_sequence_high_s: float | None = None
    energy_per_sequence_low_j: float | None = None
    energy_per_sequence_high_j: float | None = None
    kernels_per_token: int = 0
    bytes_per_token: int = 0
    flops_per_token: int = 0
    latency_by_component_s: dict[str, float] = Field(default_factory=dict)
    energy_by_component_j: dict[str, float] = Field(default_factory=dict)
    tokens_timed: int = 0
    window_s: float = 0.0
    sources: dict[str, dict[str, object]] = Field(default_factory=dict)
    # measured rows: GPU, driver, torch and CUDA versions, date (s2sim.baselines.measure)
    environment: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
