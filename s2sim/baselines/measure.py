"""Measured GPU baseline: the same language model in torch at batch 1, timed, energy from NVML.

Run on a machine with a CUDA GPU as one script::

    python -m s2sim.baselines.measure --model paper --out DIR

It writes ``DIR/gpu_measured.json`` (a list of ``GpuBaselineResult``, label "measured on <device>")
that ``s2sim bench lm --gpu-measured DIR/gpu_measured.json`` folds into its comparison table.

What is measured: token-by-token inference at batch 1 with dense float32 weights (the pruned
zeros are stored densely, as a GPU would run them), the EGRU recurrence with the reference math,
the tied decoder and a softmax, one CUDA stream, PyTorch eager. The timed window repeats the token
loop until at least ``window_s`` (>= 1 s) has passed, so the NVML energy counter (updated every
few ms) resolves it; energy is the whole board's, idle share included, over that window.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from s2sim.atomic import write_text_atomic
from s2sim.baselines.result import SEQUENCE_TOKENS, GpuBaselineResult
from s2sim.errors import S2SimError

MIN_WINDOW_S = 1.0


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is in the [train] extra
        raise S2SimError("the measured GPU baseline needs torch (pip install '.[train]')") from exc
    return torch


class TorchLM:
    """Dense torch copy of an LMModel's weights with a one-token step (reference math)."""

    def __init__(self, model, device: str):
        torch = _torch()
        self.torch = torch
        self.device = torch.device(device)

        def t(a):
            return torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device)

        self.embedding = t(model.embedding)
        bias = getattr(model, "decoder_bias", None)
        self.decoder_bias = None if bias is None else t(bias)
        self.layers = [
            (t(L.W), t(L.R), t(L.b_x), t(L.b_r), t(np.clip(L.theta, 0, 1)), int(L.R.shape[0]))
            for L in model.stack.layers
        ]
        self.reset()

    def reset(self) -> None:
        z = self.torch.zeros
        self.state = [
            (z(h, device=self.device), z(h, device=self.device)) for *_, h in self.layers
        ]

    def step(self, token):
        """One token: returns the softmax over the vocabulary (stays on the device)."""
        torch = self.torch
        x = self.embedding[token]
        new_state = []
        for (W, R, b_x, b_r, theta, H), (y_prev, c_prev) in zip(
            self.layers, self.state, strict=True
        ):
            wx = x @ W + b_x
            rh = y_prev @ R + b_r
            z = torch.sigmoid(wx[:H] + rh[:H])
            r = torch.sigmoid(wx[H : 2 * H] + rh[H : 2 * H])
            g = torch.tanh(wx[2 * H :] + r * rh[2 * H :])
            c = z * c_prev + (1 - z) * g
            o = (c - theta > 0).to(c.dtype)
            y = o * c
            new_state.append((y, c - o * theta))
            x = y
        self.state = new_state
        logits = x @ self.embedding.T
        if self.decoder_bias is not None:
            logits = logits + self.decoder_bias
        return torch.softmax(logits, dim=-1)


def _timed_window(lm, tokens, window_s: float, sync) -> tuple[int, float]:
    """``(tokens run, seconds)``: whole sequences from a reset state until ``window_s`` passed."""
    n = 0
    t0 = time.perf_counter()
    lm.reset()
    while True:
        # check the clock only every sequence: a sync per token would add its own latency
        for _ in range(SEQUENCE_TOKENS):
            lm.step(tokens[n % len(tokens)])
            n += 1
        sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= window_s:
            return n, elapsed


def measure_lm(
    model,
    model_name: str,
    device: str = "cuda",
    window_s: float = MIN_WINDOW_S,
    warmup_tokens: int = 50,
    seed: int = 0,
    use_nvml: bool | None = None,
) -> GpuBaselineResult:
    """Time (and, on CUDA, meter) token-by-token inference of ``model`` on ``device``."""
    torch = _torch()
    if window_s < MIN_WINDOW_S:
        raise S2SimError(f"--window-s {window_s}: must be at least {MIN_WINDOW_S} s")
    is_cuda = device.startswith("cuda")
    if is_cuda and not torch.cuda.is_available():
        raise S2SimError(f"device {device!r}: CUDA is not available on this machine")
    if use_nvml is None:
        use_nvml = is_cuda
    lm = TorchLM(model, device)
    vocab = int(lm.embedding.shape[0])
    rng = np.random.default_rng(seed)
    # Dense inference costs the same whatever the token values; a seeded stream keeps it
    # reproducible. Tokens are moved to the device up front so the loop has no host copies.
    tokens = torch.as_tensor(rng.integers(0, vocab, size=4096), device=lm.device)

    def sync():
        if is_cuda:
            torch.cuda.synchronize(lm.device)

    with torch.inference_mode():
        for i in range(warmup_tokens):
            lm.step(tokens[i % len(tokens)])
        sync()
        nvml = sampler = None
        e0 = None
        if use_nvml:
            from s2sim.baselines.nvml import Nvml, PowerSampler

            index = lm.device.index if lm.device.index is not None else 0
            nvml = Nvml(index)
            e0 = nvml.total_energy_mj()
            if e0 is None:
                sampler = PowerSampler(nvml).__enter__()
        n, elapsed = _timed_window(lm, tokens, window_s, sync)
        energy_j = None
        if nvml is not None:
            if sampler is not None:
                sampler.__exit__(None, None, None)
                energy_j = sampler.energy_j
            else:
                energy_j = (nvml.total_energy_mj() - e0) / 1e3
            dev_name = nvml.name()
            nvml.shutdown()
        elif is_cuda:
            dev_name = torch.cuda.get_device_name(lm.device)
        else:
            dev_name = "cpu"
    latency = elapsed / n
    notes = [f"{n} tokens over {elapsed:.3f} s, batch 1, dense float32, torch eager"]
    if energy_j is None:
        notes.append("no energy meter on this device: energy and power reported as 0")
        energy_tok = 0.0
        power = 0.0
    else:
        energy_tok = energy_j / n
        power = energy_j / elapsed
        notes.append("energy: whole-board NVML counter over the window, idle share included")
    key = "measured-" + "".join(ch if ch.isalnum() else "-" for ch in dev_name.lower()).strip("-")
    return GpuBaselineResult(
        gpu_key=key,
        gpu_name=dev_name,
        method="measured",
        label=f"measured on {dev_name}",
        model_name=model_name,
        latency_per_token_s=latency,
        energy_per_token_j=energy_tok,
        average_power_w=power,
        latency_per_sequence_s=latency * SEQUENCE_TOKENS,
        energy_per_sequence_j=energy_tok * SEQUENCE_TOKENS,
        tokens_timed=n,
        window_s=elapsed,
        notes=notes,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m s2sim.baselines.measure",
        description="Measure the LM at batch 1 on a CUDA GPU (time + NVML energy).",
    )
    p.add_argument("--model", default="small", help="small | paper | PATH to a checkpoint")
    p.add_argument("--out", required=True, type=Path, help="folder for gpu_measured.json")
    p.add_argument("--device", default="cuda", help="torch device (default cuda)")
    p.add_argument("--window-s", type=float, default=2.0, help="timed window, >= 1 s")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        from s2sim.baselines.lm_models import load_lm

        _ref, name, _source, model = load_lm(args.model, seed=args.seed)
        res = measure_lm(model, name, device=args.device, window_s=args.window_s, seed=args.seed)
        out = args.out / "gpu_measured.json"
        write_text_atomic(out, json.dumps([res.model_dump(mode="json")], indent=2) + "\n")
    except S2SimError as exc:
        print(f"s2sim: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{res.label}: {res.latency_per_token_s * 1e6:.1f} us/token, "
        f"{res.energy_per_token_j * 1e3:.3f} mJ/token, {res.average_power_w:.1f} W "
        f"({res.tokens_timed} tokens in {res.window_s:.2f} s) -> {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
