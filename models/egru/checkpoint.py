"""Versioned ``.npz`` checkpoints of EGRU language models, and import of EvNN state dicts.

Format ``s2sim-egru-lm`` version 1 (a zip written by ``numpy.savez_compressed``, read with
``allow_pickle=False``):

- ``__meta__``: UTF-8 JSON (uint8 array) with ``format``, ``version``, ``arch`` (vocab_size,
  embedding_dim, layers, tied, placement), ``arrays`` (for every parameter: shape, dtype and
  storage ``dense`` or ``csr``), ``vocab_sha256``, ``sparsity`` (weight and activity) and
  ``provenance`` (data, epochs, seed, perplexities, budget, command) plus anything the caller adds.
- ``vocab``: the words joined by ``\\n`` as UTF-8 bytes (uint8), when the vocabulary is known.
- parameters: ``embedding``, ``decoder_bias``, ``layer{l}.{W,R,b_x,b_r,theta}``. A matrix stored
  as CSR (chosen when fewer than half its entries are nonzero — pruned weights) is three arrays
  ``NAME.data`` (float32), ``NAME.indices`` (uint16 when the column count allows, else int32) and
  ``NAME.indptr`` (int32/int64). Pruned weights are exact zeros, so CSR round trips exactly. A
  dense matrix whose every value is a float16 (an embedding rounded in training, ``train.py
  --embedding-storage float16``) is stored as float16 (``dtype`` says so) and loaded as float32,
  also exactly.

``load_checkpoint`` checks the version, every shape and dtype, the CSR structure and NaN/Inf, and
raises one-line ``CheckpointError`` naming the file and what is wrong.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from models.egru.atomic import write_bytes_atomic
from models.egru.errors import CheckpointError, ModelError
from models.egru.lm import LMModel, vocab_sha256
from models.egru.reference import EGRULayer, EGRUStack

__all__ = [
    "FORMAT",
    "VERSION",
    "save_checkpoint",
    "load_checkpoint",
    "read_meta",
    "import_evnn_state_dict",
    "weight_sparsity",
    "CHECKPOINT_DIR",
    "NAMED_CHECKPOINTS",
    "named_checkpoint_path",
    "load_named",
]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
# Short names for the shipped, trained checkpoints (docs/models.md has their provenance).
# "small" is what `s2sim bench lm --model small` uses without any data set: the trained,
# 95 %-pruned PTB EGRU. "paper" is the generated paper-shape model (models.egru.paper).
NAMED_CHECKPOINTS = {
    "small": "egru_ptb_p95.npz",
    "egru_ptb_p95": "egru_ptb_p95.npz",
    "egru_ptb": "egru_ptb.npz",
    # the WikiText-2 EGRU (docs/models.md): 95 % pruned, float16 embedding
    "wt2": "egru_wt2_p95.npz",
    "egru_wt2_p95": "egru_wt2_p95.npz",
}

FORMAT = "s2sim-egru-lm"
VERSION = 1
_LAYER_PARAMS = ("W", "R", "b_x", "b_r", "theta")
_CSR_DENSITY_LIMIT = 0.5


def weight_sparsity(model: LMModel) -> dict:
    """Fraction of exact zeros in the recurrent weight matrices (W and R), per layer and total."""
    per_layer = []
    zeros = total = 0
    for layer in model.stack.layers:
        z = int(np.count_nonzero(layer.W == 0) + np.count_nonzero(layer.R == 0))
        n = layer.W.size + layer.R.size
        per_layer.append(z / n)
        zeros += z
        total += n
    return {"recurrent": zeros / total, "per_layer": per_layer}


def _param_arrays(model: LMModel) -> dict[str, np.ndarray]:
    arrays = {"embedding": model.embedding, "decoder_bias": model.decoder_bias}
    for i, layer in enumerate(model.stack.layers):
        for p in _LAYER_PARAMS:
            arrays[f"layer{i}.{p}"] = getattr(layer, p)
    return arrays


def _to_csr(a: np.ndarray):
    rows, cols = np.nonzero(a)
    data = a[rows, cols].astype(np.float32)
    idx_dtype = np.uint16 if a.shape[1] <= np.iinfo(np.uint16).max + 1 else np.int32
    indptr_dtype = np.int32 if data.size < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(a.shape[0] + 1, indptr_dtype)
    np.cumsum(np.bincount(rows, minlength=a.shape[0]), out=indptr[1:])
    return data, cols.astype(idx_dtype), indptr


def exact_in_float16(a: np.ndarray) -> bool:
    """Whether every value of ``a`` is a float16 (stored as float16, it round-trips exactly)."""
    with np.errstate(over="ignore"):
        return bool(np.array_equal(a.astype(np.float16).astype(np.float32), a))


def _jsonable(obj):
    """Meta must be plain JSON: numpy scalars/arrays become Python numbers/lists."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def save_checkpoint(path, model: LMModel, meta: dict | None = None) -> Path:
    """Write ``model`` to ``path`` atomically (temp file + ``os.replace``); returns the path.

    ``meta`` is merged into the JSON metadata (e.g. ``provenance``, ``activity``); the
    architecture, array layout, vocabulary hash and weight sparsity are always written.
    """
    path = Path(path)
    arrays_out: dict[str, np.ndarray] = {}
    layout = {}
    for name, a in _param_arrays(model).items():
        if not np.all(np.isfinite(a)):
            raise CheckpointError(f"{path}: refusing to save {name}: contains NaN or Inf")
        entry = {"shape": list(a.shape), "dtype": "float32", "storage": "dense"}
        if a.ndim == 2 and np.count_nonzero(a) < _CSR_DENSITY_LIMIT * a.size:
            data, indices, indptr = _to_csr(a)
            arrays_out[f"{name}.data"] = data
            arrays_out[f"{name}.indices"] = indices
            arrays_out[f"{name}.indptr"] = indptr
            entry["storage"] = "csr"
            entry["nnz"] = int(data.size)
        elif a.ndim == 2 and exact_in_float16(a):
            # lossless: every value is a float16 (e.g. an embedding rounded in training)
            arrays_out[name] = a.astype(np.float16)
            entry["dtype"] = "float16"
        else:
            arrays_out[name] = np.ascontiguousarray(a, dtype=np.float32)
        layout[name] = entry
    full_meta = dict(model.meta)
    full_meta.update(meta or {})
    full_meta.update(
        {
            "format": FORMAT,
            "version": VERSION,
            "arch": {
                "vocab_size": model.vocab_size,
                "embedding_dim": model.embedding_dim,
                "layers": model.layer_sizes,
                "tied": model.tied,
                "placement": model.placement,
                "gate_order": "z|r|g",
            },
            "arrays": layout,
            "vocab_sha256": model.vocab_hash,
        }
    )
    full_meta.setdefault("sparsity", {})
    full_meta["sparsity"] = dict(full_meta["sparsity"], weight=weight_sparsity(model))
    arrays_out["__meta__"] = np.frombuffer(
        json.dumps(_jsonable(full_meta), sort_keys=True).encode("utf-8"), np.uint8
    )
    if model.vocab is not None:
        arrays_out["vocab"] = np.frombuffer("\n".join(model.vocab).encode("utf-8"), np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays_out)
    write_bytes_atomic(path, buf.getvalue())
    return path


def _open(path: Path):
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    with open(path, "rb") as f:
        head = f.read(256)
    if head.lstrip().startswith(b"{") and b'"s2sim-mapping"' in head:
        raise CheckpointError(f"{path}: a compiled mapping (s2sim compile's mapping.json), not a "
                              "model checkpoint: run it with `s2sim run FILE` or "
                              "`s2sim bench lm --mapping FILE`")
    try:
        return np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: not a readable .npz checkpoint (truncated or corrupted: {exc})"
        ) from None


def _read(npz, path: Path, key: str) -> np.ndarray:
    if key not in npz.files:
        raise CheckpointError(f"{path}: array '{key}' missing")
    try:
        a = npz[key]
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: array '{key}' unreadable (truncated or corrupted: "
                              f"{exc})") from None
    if not isinstance(a, np.ndarray):  # numpy hands back raw bytes for a non-.npy member
        raise CheckpointError(f"{path}: array '{key}' unreadable (not a .npy array)")
    return a


def _meta_of(npz, path: Path) -> dict:
    raw = _read(npz, path, "__meta__")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{path}: format '{got}', expected '{FORMAT}'")
    if meta.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {meta.get('version')!r}, this loader reads version "
            f"{VERSION}"
        )
    for key in ("arch", "arrays"):
        if not isinstance(meta.get(key), dict):
            raise CheckpointError(f"{path}: metadata field '{key}' missing or not an object")
    return meta


def read_meta(path) -> dict:
    """The JSON metadata of a checkpoint (validated format and version), without the weights."""
    path = Path(path)
    with _open(path) as npz:
        return _meta_of(npz, path)


def _expected_shapes(arch: dict, path: Path) -> dict[str, tuple[int, ...]]:
    try:
        V, E = int(arch["vocab_size"]), int(arch["embedding_dim"])
        sizes = [int(h) for h in arch["layers"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: metadata 'arch' incomplete ({exc})") from None
    if not sizes or sizes[-1] != E:
        raise CheckpointError(f"{path}: arch layers {sizes} must end with embedding_dim {E}")
    shapes = {"embedding": (V, E), "decoder_bias": (V,)}
    n_in = E
    for i, h in enumerate(sizes):
        shapes.update({f"layer{i}.W": (n_in, 3 * h), f"layer{i}.R": (h, 3 * h),
                       f"layer{i}.b_x": (3 * h,), f"layer{i}.b_r": (3 * h,),
                       f"layer{i}.theta": (h,)})
        n_in = h
    return shapes


def _load_array(npz, path: Path, name: str, entry: dict, shape: tuple[int, ...]) -> np.ndarray:
    if not isinstance(entry, dict):
        raise CheckpointError(f"{path}: metadata for array '{name}' missing")
    if tuple(entry.get("shape", ())) != shape:
        raise CheckpointError(
            f"{path}: array '{name}' declared shape {tuple(entry.get('shape', ()))}, the "
            f"architecture needs {shape}"
        )
    storage = entry.get("storage")
    if storage == "dense":
        a = _read(npz, path, name)
        declared = np.dtype(entry.get("dtype", "float32"))
        if a.dtype != declared or declared not in (np.float32, np.float16):
            raise CheckpointError(f"{path}: array '{name}' has dtype {a.dtype}, expected "
                                  f"{entry.get('dtype', 'float32')} (float32 or float16)")
        a = a.astype(np.float32)
        if a.shape != shape:
            raise CheckpointError(f"{path}: array '{name}' has shape {a.shape}, expected {shape}")
    elif storage == "csr":
        data = _read(npz, path, f"{name}.data")
        indices = _read(npz, path, f"{name}.indices")
        indptr = _read(npz, path, f"{name}.indptr")
        if data.dtype != np.float32:
            raise CheckpointError(f"{path}: array '{name}.data' has dtype {data.dtype}, "
                                  "expected float32")
        if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
            raise CheckpointError(f"{path}: array '{name}' CSR index arrays are not integers")
        rows, cols = shape
        ok = (
            indptr.shape == (rows + 1,) and data.ndim == 1 and indices.shape == data.shape
            and indptr[0] == 0 and indptr[-1] == data.size and np.all(np.diff(indptr) >= 0)
            and (indices.size == 0 or (indices.min() >= 0 and indices.max() < cols))
        )
        if not ok:
            raise CheckpointError(f"{path}: array '{name}' has an inconsistent CSR structure "
                                  f"for shape {shape}")
        a = np.zeros(shape, np.float32)
        a[np.repeat(np.arange(rows), np.diff(indptr)), indices.astype(np.int64)] = data
    else:
        raise CheckpointError(f"{path}: array '{name}' has unknown storage {storage!r}")
    if not np.all(np.isfinite(a)):
        bad = "NaN" if np.isnan(a).any() else "Inf"
        raise CheckpointError(f"{path}: array '{name}' contains {bad}")
    return a


def load_checkpoint(path) -> LMModel:
    """Read a checkpoint written by ``save_checkpoint``; every problem is a ``CheckpointError``."""
    path = Path(path)
    with _open(path) as npz:
        meta = _meta_of(npz, path)
        shapes = _expected_shapes(meta["arch"], path)
        layout = meta["arrays"]
        arrays = {n: _load_array(npz, path, n, layout.get(n), s) for n, s in shapes.items()}
        vocab = None
        if "vocab" in npz.files:
            vocab = _read(npz, path, "vocab").tobytes().decode("utf-8").split("\n")
            if len(vocab) != shapes["embedding"][0]:
                raise CheckpointError(f"{path}: vocabulary has {len(vocab)} words, embedding "
                                      f"{shapes['embedding'][0]} rows")
            if meta.get("vocab_sha256") and vocab_sha256(vocab) != meta["vocab_sha256"]:
                raise CheckpointError(f"{path}: vocabulary does not match its vocab_sha256")
    n_layers = len(meta["arch"]["layers"])
    try:
        layers = [EGRULayer(*(arrays[f"layer{i}.{p}"] for p in _LAYER_PARAMS))
                  for i in range(n_layers)]
        placement = meta["arch"].get("placement") or {"embedding": "host", "stack": "chip",
                                                      "decoder": "host"}
        model = LMModel(embedding=arrays["embedding"], stack=EGRUStack(layers),
                        decoder_bias=arrays["decoder_bias"], vocab=vocab, meta=meta,
                        placement=dict(placement))
    except ModelError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return model


def named_checkpoint_path(name: str) -> Path:
    """Path of a shipped checkpoint by short name; CheckpointError if unknown or missing."""
    if name not in NAMED_CHECKPOINTS:
        raise CheckpointError(f"unknown model name '{name}' (known: "
                              f"{', '.join([*NAMED_CHECKPOINTS, 'paper'])})")
    path = CHECKPOINT_DIR / NAMED_CHECKPOINTS[name]
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file for model '{name}' not found")
    return path


def load_named(name, seed: int = 0) -> LMModel:
    """Load a language model by any name ``models.egru.names`` accepts (or a ModelRef): a shipped
    checkpoint, 'paper' / 'paper:seed=N' (generated paper shape), or a checkpoint path."""
    from models.egru.names import PAPER, resolve_model

    ref = resolve_model(name, seed) if isinstance(name, str | Path) else name
    if ref.kind == PAPER:
        from models.egru.paper import paper_shape_model

        return paper_shape_model(seed=ref.seed, embedding_sparsity=ref.embedding_sparsity,
                                 width_scale=ref.width_scale, n_layers=ref.n_layers)
    if ref.kind != "checkpoint":
        raise CheckpointError(f"model {ref.name!r} is a {ref.kind} model, not a language model")
    return load_checkpoint(ref.path)


# -- EvNN import -------------------------------------------------------------------------------
_EVNN_LAYER_KEYS = ("kernel", "recurrent_kernel", "bias", "recurrent_bias", "thr")


def _np32(name: str, v) -> np.ndarray:
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    a = np.asarray(v)
    if a.dtype.kind != "f":
        raise CheckpointError(f"EvNN state dict: '{name}' has dtype {a.dtype}, expected float")
    return np.ascontiguousarray(a, dtype=np.float32)


def _evnn_source(state_dict):
    """``(label, state dict)``: a path is loaded with ``torch.load`` (a ``state_dict`` entry
    unwrapped); a dict is passed through."""
    if not isinstance(state_dict, str | os.PathLike):
        return "EvNN state dict", state_dict
    src = str(state_dict)
    try:
        import torch

        state_dict = torch.load(state_dict, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{src}: file not found") from None
    except Exception as exc:  # torch raises many types for bad files
        raise CheckpointError(f"{src}: not a readable torch state dict ({exc})") from None
    if isinstance(state_dict, dict) and "state_dict" in state_dict:
        state_dict = state_dict["state_dict"]
    return src, state_dict


def _evnn_layer(state_dict, src: str, i: int, pre: str, extras: dict) -> EGRULayer:
    """Layer ``i`` (keys ``pre*``); its training-only parameters are appended to ``extras``."""
    vals = {}
    for k in _EVNN_LAYER_KEYS:
        if pre + k not in state_dict:
            raise CheckpointError(f"{src}: layer {i} key '{pre + k}' missing")
        vals[k] = _np32(pre + k, state_dict[pre + k])
    for k in ("dampening_factor", "pseudo_derivative_support"):
        if pre + k in state_dict:
            extras.setdefault(k, []).append(float(_np32(pre + k, state_dict[pre + k])[0]))
    try:
        return EGRULayer(vals["kernel"], vals["recurrent_kernel"], vals["bias"],
                         vals["recurrent_bias"], vals["thr"].reshape(-1))
    except ModelError as exc:
        raise CheckpointError(f"{src}: layer {i} ('{pre}'): {exc}") from None


def import_evnn_state_dict(state_dict, embedding_key: str | None = None,
                           decoder_bias_key: str | None = None, vocab: list[str] | None = None,
                           meta: dict | None = None) -> LMModel:
    """Build an LMModel from a torch state dict of an LM made of ``evnn_pytorch.EGRU`` layers.

    EvNN names each layer's parameters ``kernel`` (n_in, 3H), ``recurrent_kernel`` (H, 3H),
    ``bias``, ``recurrent_bias`` (3H,) and ``thr`` (H,) with the gate columns in the order z, r,
    g (``torch.chunk(Wx, 3)`` -> z, r, g in ``EGRUScript``) — the same layout as ours, so the
    import is a renaming. Layers are found by the ``<prefix>kernel`` keys and ordered by the
    integer in their prefix (``rnns.0.``, ``rnns.1.`` ...). ``thr`` is clamped to [0, 1] as EvNN
    does before each forward pass; ``dampening_factor`` and ``pseudo_derivative_support`` only
    matter for training and are recorded in the metadata. The embedding is ``encoder.weight`` or
    ``embedding.weight`` unless ``embedding_key`` names it; the decoder bias ``decoder.bias``.
    ``state_dict`` may also be a path to a file saved with ``torch.save``.
    """
    src, state_dict = _evnn_source(state_dict)
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{src}: expected a dict of tensors")
    prefixes = [k[: -len("recurrent_kernel")] for k in state_dict if k.endswith("recurrent_kernel")]
    if not prefixes:
        raise CheckpointError(f"{src}: no EGRU layer found (no '*recurrent_kernel' key)")

    def order(prefix: str):
        digits = [int(p) for p in prefix.replace("_", ".").split(".") if p.isdigit()]
        return (digits or [0], prefix)

    prefixes.sort(key=order)
    layers = []
    extras = {}
    for i, pre in enumerate(prefixes):
        layers.append(_evnn_layer(state_dict, src, i, pre, extras))
    if embedding_key is None:
        cands = [k for k in state_dict if k.endswith(("encoder.weight", "embedding.weight"))]
        if len(cands) != 1:
            raise CheckpointError(f"{src}: cannot identify the embedding (candidates {cands}); "
                                  "pass embedding_key")
        embedding_key = cands[0]
    if embedding_key not in state_dict:
        raise CheckpointError(f"{src}: embedding key '{embedding_key}' missing")
    emb = _np32(embedding_key, state_dict[embedding_key])
    if decoder_bias_key is None:
        cands = [k for k in state_dict if k.endswith("decoder.bias")]
        decoder_bias_key = cands[0] if len(cands) == 1 else None
    bias = _np32(decoder_bias_key, state_dict[decoder_bias_key]) if decoder_bias_key else None
    try:
        stack = EGRUStack(layers)
        m = dict(meta or {})
        m.setdefault("provenance", {})["imported_from"] = "evnn_pytorch.EGRU state dict"
        m["evnn"] = extras
        return LMModel(embedding=emb, stack=stack, decoder_bias=bias, vocab=vocab, meta=m)
    except ModelError as exc:
        raise CheckpointError(f"{src}: {exc}") from None
