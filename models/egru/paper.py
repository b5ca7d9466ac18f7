"""The paper's model shape as a generated, activity-calibrated model (not a trained one).

Shape (``docs/egru.md``, SpiNNaker2 deployment of the ICLR 2023 LM): embedding 750 ->
EGRU 1350 -> EGRU 1350 -> EGRU 750 -> decoder tied to the embedding, WikiText-2 vocabulary of
33,278 words, 95 % of every recurrent weight matrix pruned (unstructured, exact zeros), float32.
Training it is out of reach on a 2-core CPU (hundreds of GPU epochs), so the weights are random:

- W and R: exactly ``round(0.05 · size)`` nonzeros per matrix at uniformly random positions,
  values N(0, σ²) with σ = gain / sqrt(fan_in · density) so that a gate's pre-activation has about
  the spread ``gain`` for dense inputs of unit scale (fan-in counts only the surviving weights).
- embedding: N(0, 0.5²) per entry (the input of layer 1 is dense, as in the real model);
  decoder bias 0.
- ``embedding_sparsity`` > 0 (the on-chip decoder deployment, ``--decoder chip``): the embedding
  is pruned like the recurrent weights — exactly ``round(density · V · E)`` entries kept at
  uniformly random positions (drawn from a generator of its own, so the rest of the model is the
  default one), scaled by 1/sqrt(density) so a row keeps its expected norm, and rounded to
  float16 values (the chip stores the table as float16; the rounding makes that storage exact).
- thresholds: per unit θ_i = θ_l · u_i with u_i uniform in [0.75, 1.25] (the trained models have
  per-unit thresholds too), clamped to [0, 1].

**Calibration.** The per-layer scale θ_l is found by bisection so that each layer's activity (the
fraction of nonzero outputs) on a calibration stream of Zipf-distributed tokens matches a target,
layer by layer (layer l+1 sees the calibrated layer l). The default targets are the activity the
trained, 95 %-pruned PTB EGRU of this project showed at batch size 1 (``TARGET_ACTIVITY``, see
``docs/models.md``). Calibrating costs ~10-20 s, so the scales found for the default targets are
stored in ``CALIBRATED_THETA_SCALE`` (reproduce with ``python -m models.egru.paper --calibrate``);
any other seed or target is calibrated on the fly, and the scales found are kept in a user cache
keyed by every generation parameter and the source of this module and of the reference
(``calibration_cache_file``; ``S2SIM_CACHE_DIR`` moves it, an empty value turns it off), so a
seed's second model costs no calibration: the cached scales are the ones the bisection gives,
the same model bit for bit. The activity reached is written to ``meta``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from models.egru.lm import LMModel
from models.egru.reference import EGRULayer, EGRUStack

__all__ = [
    "PAPER_VOCAB_SIZE",
    "PAPER_EMBEDDING",
    "PAPER_LAYERS",
    "PAPER_WEIGHT_SPARSITY",
    "TARGET_ACTIVITY",
    "paper_shape_model",
    "scaled_shape",
    "calibrate_thresholds",
    "zipf_tokens",
    "measure_activity",
    "calibration_cache_file",
]

PAPER_VOCAB_SIZE = 33278  # WikiText-2 vocabulary with <eos> (shared/data/README.md)
PAPER_EMBEDDING = 750
PAPER_LAYERS = (1350, 1350, 750)
PAPER_WEIGHT_SPARSITY = 0.95
GAIN = 1.0

# Per-layer target activity (fraction of nonzero outputs) at batch size 1. Measured on the trained
# 95 %-pruned PTB EGRU of this project (checkpoints/egru_ptb_p95.npz, the whole PTB test split at
# batch 1: 0.4653 and 0.3069, docs/models.md); layers 1-2 of the paper shape take the value of the
# trained model's first layer, layer 3 (the top, feeding the decoder) that of its top layer.
TARGET_ACTIVITY = (0.465, 0.465, 0.307)
# theta scales found by calibrate_thresholds(seed=0) for TARGET_ACTIVITY (see module docstring).
CALIBRATED_THETA_SCALE: tuple[float, ...] | None = (
    0.017749023437500004, 0.0114013671875, 0.034350585937500004)
# Wider and deeper variants (``scaled_shape``; ``--width-scale K``, ``--layers L``) are not
# recalibrated: W and R draw their values with sigma = gain / sqrt(fan_in * density), so a gate's
# pre-activation has the same spread at any width, and the stored per-layer theta scales carry
# over (first layer: layer 1's, middle layers: layer 2's, top layer: layer 3's). The activity a
# variant reaches is measured and written to its meta (``activity_reached``), so a drift shows.
MAX_WIDTH_SCALE = 8
MAX_LAYERS = 16
# ... and for the embedding pruned to 95 % (embedding_sparsity=0.95, seed 0), found the same way
# (python -m models.egru.paper --calibrate --embedding-sparsity 0.95).
CALIBRATED_THETA_SCALE_PRUNED_EMBEDDING: dict[float, tuple[float, ...]] = {
    0.95: (0.013256835937500001, 0.010180664062500002, 0.0323486328125)}
_CALIB_TOKENS = 300
_CALIB_WARMUP = 50


def zipf_tokens(n: int, vocab_size: int, seed: int, a: float = 1.1) -> np.ndarray:
    """Token ids with a Zipf-like frequency profile (rank r has probability ∝ r^-a)."""
    rng = np.random.default_rng(seed)
    p = np.arange(1, vocab_size + 1, dtype=np.float64) ** -a
    p /= p.sum()
    return rng.choice(vocab_size, size=n, p=p).astype(np.int64)


def _sparse_matrix(rng, shape, density: float, gain: float) -> np.ndarray:
    n = shape[0] * shape[1]
    nnz = int(round(density * n))
    m = np.zeros(n, np.float32)
    pos = rng.choice(n, size=nnz, replace=False)
    sigma = gain / np.sqrt(shape[0] * density)
    m[pos] = (rng.standard_normal(nnz) * sigma).astype(np.float32)
    return m.reshape(shape)


def _theta(rng, hidden: int, scale: float) -> np.ndarray:
    u = rng.uniform(0.75, 1.25, hidden)
    return np.clip(scale * u, 0.0, 1.0).astype(np.float32)


def _scaled(scale: float, u: np.ndarray) -> np.ndarray:
    return np.clip(scale * u, 0, 1).astype(np.float32)


def _layer_activity(layer: EGRULayer, xs: np.ndarray, wx=None) -> tuple[float, np.ndarray]:
    # the layer's W and R are the generator's own, never edited: no CSR check per try
    st = EGRUStack([layer]).run(xs, input_product=wx, check_csr=False)
    ys = st.ys[0]
    return float(np.count_nonzero(ys[_CALIB_WARMUP:])) / ys[_CALIB_WARMUP:].size, ys


def measure_activity(model: LMModel, tokens: np.ndarray, warmup: int = _CALIB_WARMUP):
    """Per-layer fraction of nonzero outputs when running ``tokens`` at batch 1 (after warm-up)."""
    tr = model.stack.run(model.embedding[tokens])
    return [float(np.count_nonzero(y[warmup:])) / y[warmup:].size for y in tr.ys]


def calibrate_thresholds(layers, u_list, xs, targets, iters: int = 14) -> list[float]:
    """Bisect each layer's θ scale in [0, 1/1.25] so its activity on ``xs`` meets the target.

    ``layers`` are the ``EGRULayer`` s (their θ is replaced), ``u_list`` the per-unit
    multipliers.
    Activity falls as θ rises; if even the largest θ (1 after clamping) leaves the layer more
    active than the target, the largest scale is returned and the shortfall shows in the meta.
    """
    scales = []
    inp = xs
    for base, u, target in zip(layers, u_list, targets, strict=True):
        lo, hi = 0.0, 1.0 / 1.25
        # one layer (its CSR) and one input product for all tries: only θ changes
        wx = base.input_product(inp)
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            act, _ = _layer_activity(base.with_theta(_scaled(mid, u)), inp, wx)
            if act > target:
                lo = mid
            else:
                hi = mid
        scale = 0.5 * (lo + hi)
        _, ys = _layer_activity(base.with_theta(_scaled(scale, u)), inp, wx)
        scales.append(scale)
        inp = ys
    return scales


def calibration_cache_file() -> Path | None:
    """The user cache of calibrated θ scales (JSON): ``$S2SIM_CACHE_DIR`` (empty: no cache),
    else ``$XDG_CACHE_HOME/s2sim``, else ``~/.cache/s2sim``."""
    env = os.environ.get("S2SIM_CACHE_DIR")
    if env is not None:
        return Path(env) / "paper-calibration.json" if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "s2sim" / "paper-calibration.json"


def _cache_key(params: dict) -> str:
    """Every input of the calibration: the parameters, numpy's version (its exp and tanh) and
    the source of this module and of the reference (their numerics)."""
    from models.egru import reference

    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    h.update(np.__version__.encode())
    for mod in (sys.modules[__name__], reference):
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()


def _cached_calibration(params: dict, calibrate) -> list[float]:
    """``calibrate()``'s scales, from the cache when it holds them for ``params`` (else computed
    and stored). An unreadable or unwritable cache is only a slower run."""
    path = calibration_cache_file()
    key = _cache_key(params)
    entries = {}
    if path is not None:
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
            hit = entries[key]["theta_scale"]
            if isinstance(hit, list) and all(isinstance(v, float) for v in hit):
                return hit
        except (OSError, ValueError, KeyError, TypeError):
            entries = entries if isinstance(entries, dict) else {}
    scales = [float(v) for v in calibrate()]
    if path is not None:
        entries[key] = {"params": params, "theta_scale": scales}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)  # whole or not at all: concurrent runs never read half a file
        except OSError:
            pass
    return scales


def prune_embedding(emb: np.ndarray, sparsity: float, seed: int) -> np.ndarray:
    """The embedding with exactly ``round((1 - sparsity) · size)`` entries kept at random
    positions (generator ``[seed, 1]``), scaled by 1/sqrt(density), rounded to float16 values."""
    density = 1.0 - float(sparsity)
    n = emb.size
    keep = np.random.default_rng([seed, 1]).choice(n, size=int(round(density * n)),
                                                     replace=False)
    out = np.zeros(n, np.float32)
    flat = emb.reshape(-1)
    out[keep] = (flat[keep] / np.float32(np.sqrt(density))).astype(np.float16)
    return out.reshape(emb.shape)


def scaled_shape(width_scale: int = 1, n_layers: int = len(PAPER_LAYERS)):
    """(embedding_dim, layer widths, target activity, stored theta scales) of the paper shape
    with every layer ``width_scale`` x wider and ``n_layers`` layers (the first L-1 as wide as the
    paper's first, the top one as the embedding, tied to the decoder); the default is the paper's
    own shape. ValueError names the allowed range."""
    k, n = int(width_scale), int(n_layers)
    if k != width_scale or not 1 <= k <= MAX_WIDTH_SCALE:
        raise ValueError(f"width scale {width_scale!r}: must be a whole number "
                         f"1..{MAX_WIDTH_SCALE}")
    if n != n_layers or not 2 <= n <= MAX_LAYERS:
        raise ValueError(f"layers {n_layers!r}: must be a whole number 2..{MAX_LAYERS}")
    first, top = PAPER_LAYERS[0], PAPER_LAYERS[-1]
    layers = tuple(k * h for h in (first,) * (n - 1) + (top,))
    targets = (TARGET_ACTIVITY[0],) * (n - 1) + (TARGET_ACTIVITY[-1],)
    theta = None
    if CALIBRATED_THETA_SCALE is not None:
        c = CALIBRATED_THETA_SCALE
        theta = (c[0],) + (c[1],) * (n - 2) + (c[-1],)
    return k * PAPER_EMBEDDING, layers, targets, theta


def paper_shape_model(seed: int = 0, activity: tuple[float, ...] | None = None,
                      weight_sparsity: float = PAPER_WEIGHT_SPARSITY,
                      vocab_size: int = PAPER_VOCAB_SIZE, embedding_dim: int = PAPER_EMBEDDING,
                      layers: tuple[int, ...] = PAPER_LAYERS,
                      embedding_sparsity: float = 0.0, width_scale: int = 1,
                      n_layers: int | None = None) -> LMModel:
    """Build the paper-shape EGRU LM (3 x 1350/1350/750, E 750, V 33,278, 95 % pruned).

    ``activity``: per-layer target fraction of nonzero outputs (default ``TARGET_ACTIVITY``,
    whose calibration is stored). The other arguments exist for small variants in tests; the
    defaults are the paper's shape. ``embedding_sparsity``: prune the embedding too (for the
    on-chip decoder; thresholds then calibrated for that input). ``width_scale`` / ``n_layers``:
    the wider / deeper variants of ``scaled_shape`` (they replace ``embedding_dim``, ``layers``
    and the default targets and use the stored theta scales, see ``scaled_shape``).
    Deterministic in ``seed``.
    """
    if not 0.0 <= embedding_sparsity < 1.0:
        raise ValueError(f"embedding_sparsity {embedding_sparsity}: must be in [0, 1)")
    scaled_theta = None
    if width_scale != 1 or (n_layers is not None and n_layers != len(PAPER_LAYERS)):
        embedding_dim, layers, scaled_targets, scaled_theta = scaled_shape(
            width_scale, len(PAPER_LAYERS) if n_layers is None else n_layers)
        if activity is None and weight_sparsity == PAPER_WEIGHT_SPARSITY:
            activity = scaled_targets
        if embedding_sparsity or tuple(activity or ()) != scaled_targets:
            scaled_theta = None
    if layers[-1] != embedding_dim:
        raise ValueError("the tied decoder needs the last layer as wide as the embedding")
    targets = tuple(activity) if activity is not None else TARGET_ACTIVITY
    if len(targets) != len(layers):
        raise ValueError(f"activity needs {len(layers)} values, got {len(targets)}")
    density = 1.0 - weight_sparsity
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((vocab_size, embedding_dim), dtype=np.float32)
    emb *= np.float32(0.5)  # in place: the same float32 products, no 100 MB temporaries
    bases, us = [], []  # the layers with θ = 0 (their CSR shared by every θ tried and the last)
    n_in = embedding_dim
    for h in layers:
        W = _sparse_matrix(rng, (n_in, 3 * h), density, GAIN)
        R = _sparse_matrix(rng, (h, 3 * h), density, GAIN)
        b_x = np.zeros(3 * h, np.float32)
        b_r = np.zeros(3 * h, np.float32)
        bases.append(EGRULayer(W, R, b_x, b_r, np.zeros(h, np.float32)))
        us.append(rng.uniform(0.75, 1.25, h))
        n_in = h
    if embedding_sparsity > 0:
        emb = prune_embedding(emb, embedding_sparsity, seed)
    stored = CALIBRATED_THETA_SCALE if embedding_sparsity == 0 else \
        CALIBRATED_THETA_SCALE_PRUNED_EMBEDDING.get(float(embedding_sparsity))
    is_default = (activity is None and weight_sparsity == PAPER_WEIGHT_SPARSITY
                  and vocab_size == PAPER_VOCAB_SIZE and embedding_dim == PAPER_EMBEDDING
                  and tuple(layers) == PAPER_LAYERS and seed == 0)
    calib_tokens = zipf_tokens(_CALIB_TOKENS, vocab_size, seed=seed + 1)
    if is_default and stored is not None:
        scales = list(stored)
        how = ("stored calibration (CALIBRATED_THETA_SCALE)" if embedding_sparsity == 0 else
               "stored calibration (CALIBRATED_THETA_SCALE_PRUNED_EMBEDDING)")
    elif scaled_theta is not None and vocab_size == PAPER_VOCAB_SIZE:
        scales = list(scaled_theta)
        how = (f"stored calibration carried over (width x{width_scale}, {len(layers)} layers; "
               "pre-activation spread is width-invariant)")
    else:
        params = {"seed": seed, "targets": list(targets), "weight_sparsity": weight_sparsity,
                  "vocab_size": vocab_size, "embedding_dim": embedding_dim,
                  "layers": list(layers), "embedding_sparsity": embedding_sparsity,
                  "gain": GAIN, "tokens": _CALIB_TOKENS, "warmup": _CALIB_WARMUP}
        scales = _cached_calibration(
            params, lambda: calibrate_thresholds(bases, us, emb[calib_tokens], targets))
        how = "calibrated on the fly"
    stack = EGRUStack([base.with_theta(_scaled(s, u))
                       for base, u, s in zip(bases, us, scales, strict=True)])
    meta = {
        "name": ("paper-shape" if width_scale == 1 and n_layers in (None, len(PAPER_LAYERS))
                 else f"paper-shape-x{width_scale}-L{len(layers)}"),
        "generated": True,
        "provenance": {
            "generator": "models.egru.paper.paper_shape_model",
            "seed": seed,
            "trained": False,
            "note": "random sparse weights; thresholds calibrated to target activity",
            **({"embedding_sparsity": float(embedding_sparsity),
                "embedding_values": "float16"} if embedding_sparsity > 0 else {}),
        },
        "calibration": {
            "target_activity": list(targets),
            "theta_scale": [float(s) for s in scales],
            "how": how,
            "stream": f"{_CALIB_TOKENS} Zipf(1.1) tokens, seed {seed + 1}, "
                      f"first {_CALIB_WARMUP} steps excluded",
        },
    }
    model = LMModel(embedding=emb, stack=stack, meta=meta)
    meta["calibration"]["activity_reached"] = measure_activity(model, calib_tokens)
    return model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.egru.paper",
                                 description="Build the paper-shape EGRU LM and report activity.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calibrate", action="store_true",
                    help="recalibrate the default targets and print the θ scales to store")
    ap.add_argument("--activity", type=float, nargs="+", default=None)
    ap.add_argument("--embedding-sparsity", type=float, default=0.0,
                    help="prune the embedding too (the on-chip decoder deployment)")
    ap.add_argument("--save", default=None, help="write the model as a checkpoint (large!)")
    args = ap.parse_args(argv)
    global CALIBRATED_THETA_SCALE
    if args.calibrate:
        CALIBRATED_THETA_SCALE = None
        CALIBRATED_THETA_SCALE_PRUNED_EMBEDDING.clear()
    m = paper_shape_model(seed=args.seed,
                          activity=tuple(args.activity) if args.activity else None,
                          embedding_sparsity=args.embedding_sparsity)
    fresh = zipf_tokens(1000, m.vocab_size, seed=args.seed + 1000)
    out = dict(m.meta["calibration"], activity_fresh_stream=measure_activity(m, fresh))
    print(json.dumps(out, indent=1))
    if args.save:
        from models.egru.checkpoint import save_checkpoint

        save_checkpoint(args.save, m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
