"""Measured GPU baseline: the same language model in torch at batch 1, timed, energy from NVML.

Run on a machine with a CUDA GPU as one script::

    python -m s2sim.baselines.measure --model small,paper --mode eager,graph --out DIR

It writes ``DIR/gpu_measured.json`` (a list of ``GpuBaselineResult``, one per model and mode,
labelled "measured on <device>" / "measured on <device>, CUDA graph", with the GPU, driver, torch
and CUDA versions and the date under ``environment``) that
``s2sim bench lm --gpu-measured DIR/gpu_measured.json`` folds into its comparison table.

What is measured: token-by-token inference at batch 1 with dense float32 weights (the pruned
zeros are stored densely, as a GPU would run them), the EGRU recurrence with the reference math,
the tied decoder and a softmax, one CUDA stream. Two token loops:
  eager   PyTorch eager, every kernel launched from the host;
  graph   one 70-token sequence captured as a CUDA graph (``torch.cuda.graph``) with static
          token and state buffers, replayed: the GPU's best case, host launch latency removed.
The timed window repeats the loop until at least ``window_s`` (>= 1 s) has passed, so the NVML
energy counter (updated every few ms) resolves it; energy is the whole board's, idle share
included, over that window. Without CUDA, a CUDA run fails with one line (exit 2).
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
        """Zero the state in place (a captured CUDA graph keeps pointing at the same buffers)."""
        if getattr(self, "state", None) is not None:
            for y, c in self.state:
                y.zero_()
                c.zero_()
            return
        z = self.torch.zeros
        self.state = [
            (z(h, device=self.device), z(h, device=self.device)) for *_, h in self.layers
        ]

    def _layers(self, x, state):
        """The EGRU stack on input ``x`` from ``state``: (top output, new state)."""
        torch = self.torch
        new_state = []
        for (W, R, b_x, b_r, theta, H), (y_prev, c_prev) in zip(self.layers, state, strict=True):
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
        return x, new_state

    def _readout(self, x):
        logits = x @ self.embedding.T
        if self.decoder_bias is not None:
            logits = logits + self.decoder_bias
        return self.torch.softmax(logits, dim=-1)

    def step(self, token):
        """One token: returns the softmax over the vocabulary (stays on the device)."""
        x, self.state = self._layers(self.embedding[token], self.state)
        return self._readout(x)

    def step_inplace(self, token):
        """One token with the state updated in place (fixed addresses, as a CUDA graph needs)."""
        x, new_state = self._layers(self.embedding[token], self.state)
        for (y, c), (y_new, c_new) in zip(self.state, new_state, strict=True):
            y.copy_(y_new)
            c.copy_(c_new)
        return self._readout(x)


class GraphSequence:
    """One SEQUENCE_TOKENS-token loop of ``lm.step_inplace`` captured as a CUDA graph.

    ``run(tokens)`` copies the sequence's tokens into the static token buffer and replays the
    graph; the softmax outputs of the sequence land in ``self.probs`` (static too).
    """

    def __init__(self, lm: TorchLM, tokens):
        torch = lm.torch
        self.lm = lm
        self.tokens = tokens[:SEQUENCE_TOKENS].clone()
        stream = torch.cuda.Stream(lm.device)
        stream.wait_stream(torch.cuda.current_stream(lm.device))
        with torch.cuda.stream(stream):  # warm-up on a side stream, as torch.cuda.graph asks
            for i in range(3):
                lm.step_inplace(self.tokens[i])
        torch.cuda.current_stream(lm.device).wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.probs = [lm.step_inplace(self.tokens[i]) for i in range(SEQUENCE_TOKENS)]

    def run(self, tokens) -> None:
        self.tokens.copy_(tokens)
        self.graph.replay()


MODES = ("eager", "graph")


def parse_modes(text: str) -> list[str]:
    """``"eager,graph"`` -> ["eager", "graph"]; unknown names -> one-line error."""
    out = [t.strip() for t in text.split(",") if t.strip()]
    bad = [m for m in out if m not in MODES]
    if bad or not out:
        raise S2SimError(f"--mode {text!r}: a comma list of {', '.join(MODES)}")
    return out


def environment(torch, device) -> dict[str, str]:
    """GPU, driver, torch and CUDA versions and the date, for the recorded JSON."""
    env = {"torch": str(torch.__version__), "date": time.strftime("%Y-%m-%d"),
           "device": str(device)}
    if device.type == "cuda":
        env["cuda"] = str(torch.version.cuda)
        env["gpu"] = torch.cuda.get_device_name(device)
        try:
            from s2sim.baselines.nvml import Nvml

            nv = Nvml(device.index or 0)
            env["driver"] = nv.driver_version()
            nv.shutdown()
        except S2SimError as exc:
            env["driver"] = f"unknown ({exc})"
    return env


def _check_args(torch, device: str, window_s: float, mode: str) -> bool:
    if window_s < MIN_WINDOW_S:
        raise S2SimError(f"--window-s {window_s}: must be at least {MIN_WINDOW_S} s")
    if mode not in MODES:
        raise S2SimError(f"mode {mode!r}: one of {', '.join(MODES)}")
    is_cuda = device.startswith("cuda")
    if is_cuda and not torch.cuda.is_available():
        raise S2SimError(f"device {device!r}: CUDA is not available on this machine")
    if mode == "graph" and not is_cuda:
        raise S2SimError(f"mode graph: CUDA graphs need a CUDA device, not {device!r}")
    return is_cuda


class _Meter:
    """Board energy over a window from NVML (counter, or sampled power where it is missing)."""

    def __init__(self, device):
        from s2sim.baselines.nvml import Nvml, PowerSampler

        self.nvml = Nvml(device.index if device.index is not None else 0)
        self.e0 = self.nvml.total_energy_mj()
        self.sampler = PowerSampler(self.nvml).__enter__() if self.e0 is None else None

    def stop(self) -> tuple[float, str]:
        """(energy_j over the window, device name); closes NVML."""
        if self.sampler is not None:
            self.sampler.__exit__(None, None, None)
            energy = self.sampler.energy_j
        else:
            energy = (self.nvml.total_energy_mj() - self.e0) / 1e3
        name = self.nvml.name()
        self.nvml.shutdown()
        return energy, name


def _timed_loop(lm: TorchLM, tokens, mode: str, window_s: float, sync) -> tuple[int, float]:
    """Run whole sequences until ``window_s`` has passed: (tokens run, seconds)."""
    graph = GraphSequence(lm, tokens) if mode == "graph" else None
    sync()
    n_seq = len(tokens) // SEQUENCE_TOKENS
    n = 0
    t0 = time.perf_counter()
    lm.reset()
    while True:
        # check the clock only every sequence: a sync per token would add its own latency
        s = (n // SEQUENCE_TOKENS) % n_seq
        if graph is not None:
            graph.run(tokens[s * SEQUENCE_TOKENS:(s + 1) * SEQUENCE_TOKENS])
        else:
            for i in range(SEQUENCE_TOKENS):
                lm.step(tokens[s * SEQUENCE_TOKENS + i])
        n += SEQUENCE_TOKENS
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
    mode: str = "eager",
) -> GpuBaselineResult:
    """Time (and, on CUDA, meter) token-by-token inference of ``model`` on ``device``."""
    torch = _torch()
    is_cuda = _check_args(torch, device, window_s, mode)
    if use_nvml is None:
        use_nvml = is_cuda
    lm = TorchLM(model, device)
    vocab = int(lm.embedding.shape[0])
    rng = np.random.default_rng(seed)
    # Dense inference costs the same whatever the token values; a seeded stream keeps it
    # reproducible. Tokens are moved to the device up front so the loop has no host copies.
    tokens = torch.as_tensor(rng.integers(0, vocab, size=SEQUENCE_TOKENS * 58),
                             device=lm.device)

    def sync():
        if is_cuda:
            torch.cuda.synchronize(lm.device)

    with torch.inference_mode() if mode == "eager" else torch.no_grad():
        for i in range(warmup_tokens):
            lm.step(tokens[i % len(tokens)])
        sync()
        meter = _Meter(lm.device) if use_nvml else None
        n, elapsed = _timed_loop(lm, tokens, mode, window_s, sync)
        energy_j, dev_name = meter.stop() if meter is not None else (None, None)
    if dev_name is None:
        dev_name = torch.cuda.get_device_name(lm.device) if is_cuda else "cpu"
    return _result(model_name, mode, dev_name, n, elapsed, energy_j,
                   environment(torch, lm.device))


def _result(model_name: str, mode: str, dev_name: str, n: int, elapsed: float,
            energy_j: float | None, env: dict[str, str]) -> GpuBaselineResult:
    latency = elapsed / n
    loop = "torch eager" if mode == "eager" else "CUDA graph (one graph per 70-token sequence)"
    notes = [f"{n} tokens over {elapsed:.3f} s, batch 1, dense float32, {loop}"]
    if energy_j is None:
        notes.append("no energy meter on this device: energy and power reported as 0")
        energy_tok = power = 0.0
    else:
        energy_tok = energy_j / n
        power = energy_j / elapsed
        notes.append("energy: whole-board NVML counter over the window, idle share included")
    key = "measured-" + "".join(ch if ch.isalnum() else "-" for ch in dev_name.lower()).strip("-")
    suffix = "" if mode == "eager" else ", CUDA graph"
    return GpuBaselineResult(
        gpu_key=key + ("" if mode == "eager" else "-graph"),
        gpu_name=dev_name,
        method="measured",
        label=f"measured on {dev_name}{suffix}",
        model_name=model_name,
        latency_per_token_s=latency,
        energy_per_token_j=energy_tok,
        average_power_w=power,
        latency_per_sequence_s=latency * SEQUENCE_TOKENS,
        energy_per_sequence_j=energy_tok * SEQUENCE_TOKENS,
        tokens_timed=n,
        window_s=elapsed,
        environment=env,
        notes=notes,
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m s2sim.baselines.measure",
        description="Measure the LM at batch 1 on a CUDA GPU (time + NVML energy), eager and "
                    "as a CUDA graph.",
    )
    p.add_argument("--model", default="small",
                   help="comma list of small | paper | PATH to a checkpoint (default small)")
    p.add_argument("--mode", default="eager,graph",
                   help="comma list of eager | graph (default both)")
    p.add_argument("--out", required=True, type=Path, help="folder for gpu_measured.json")
    p.add_argument("--device", default="cuda", help="torch device (default cuda)")
    p.add_argument("--window-s", type=float, default=2.0, help="timed window, >= 1 s")
    p.add_argument("--seed", type=int, default=0)
    return p


def run(args) -> list[GpuBaselineResult]:
    """Every (model, mode) of ``args``; a CUDA run without CUDA fails before any model loads."""
    from s2sim.baselines.lm_models import load_lm

    modes = parse_modes(args.mode)
    models = [m.strip() for m in args.model.split(",") if m.strip()]
    if not models:
        raise S2SimError("--model: give at least one model (small, paper or a checkpoint)")
    torch = _torch()
    for mode in modes:
        _check_args(torch, args.device, args.window_s, mode)
    out = []
    for spec in models:
        _ref, name, _source, model = load_lm(spec, seed=args.seed)
        out.extend(measure_lm(model, name, device=args.device, window_s=args.window_s,
                              seed=args.seed, mode=mode) for mode in modes)
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        results = run(args)
        out = args.out / "gpu_measured.json"
        write_text_atomic(out, json.dumps([r.model_dump(mode="json") for r in results],
                                          indent=2) + "\n")
    except S2SimError as exc:
        print(f"s2sim: error: {exc}", file=sys.stderr)
        return 2
    for res in results:
        print(
            f"{res.model_name} {res.label}: {res.latency_per_token_s * 1e6:.1f} us/token, "
            f"{res.energy_per_token_j * 1e3:.3f} mJ/token, {res.average_power_w:.1f} W "
            f"({res.tokens_timed} tokens in {res.window_s:.2f} s)"
        )
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
