"""Train and evaluate EGRU / LSTM language models; gradual magnitude pruning with fine-tuning.

    python -m models.egru.train --model egru --corpus ptb --emb 96 --layers 192 96 \\
        --minutes 40 --run runs/egru_ptb
    python -m models.egru.train --model egru --init-from runs/egru_ptb \\
        --prune-to 0.95 --minutes 25 --run runs/egru_ptb_p95
    python -m models.egru.train --eval-only --run runs/egru_ptb     # re-evaluate
    python -m models.egru.train --model egru --corpus wikitext-2 --emb 128 --layers 512 128 \
        --softmax sampled --activity-reg 1.0 --activity-target 0.15 --embedding-storage float16 \
        --minutes 55 --run runs/egru_wt2

Training is bounded by wall-clock minutes and/or epochs (whichever ends first). Every few minutes
the full training state (model, optimiser, masks, data position, RNG, elapsed time) is written
atomically to ``RUN/state.pt``; rerunning the same command continues from it. The model is
validated at the end of every epoch and at the end of the budget. Test perplexity is measured at
batch size 1 (the paper's setting) over the whole test split; for the EGRU by the numpy reference
(``LMModel.evaluate``), which also gives the activity per layer. Results go to
``RUN/results.json``; the EGRU is saved as an ``.npz`` checkpoint (``RUN/model.npz``), the LSTM as
``RUN/lstm.npz`` (plain arrays + JSON meta).

Large vocabularies (WikiText-2, 33,278 words): ``--softmax sampled`` trains the tied decoder
with a sampled softmax (``models.egru.sampled_softmax``; ``--samples`` K per batch); validation
and test always use the full softmax. ``--embedding-storage float16`` rounds the embedding to
float16 values at the end (stored losslessly as float16, half the checkpoint); the results record
the validation perplexity before and after the rounding.

Activity regularisation (EGRU, Subramoney et al. 2023, sec. 3 "activity regularization"): with
``--activity-reg λ`` the loss gains ``λ · Σ_layers max(0, rate_l − target)``, rate_l the mean
event rate (events per unit and step) of layer l over the batch, differentiated through the
Heaviside's pseudo-derivative; it pushes each layer's activity down to ``--activity-target``
and leaves it alone below.

Pruning (Zhu & Gupta 2017, "To prune, or not to prune"): the sparsity of each recurrent weight
matrix follows s(p) = s_f · (1 − (1 − (p − p0)/(p1 − p0))³) for budget progress p in [p0, p1] and
stays at s_f after p1 (fine-tuning); every ``--prune-every`` steps the smallest-magnitude weights
of each matrix are set to exact zeros and kept there by a mask after every optimiser step.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from models.egru.atomic import write_bytes_atomic, write_text_atomic
from models.egru.data import Corpus, load_corpus
from models.egru.errors import S2SimError
from models.egru.sampled_softmax import UnigramSampler, sampled_softmax_nll
from models.egru.torch_egru import (
    EGRULM,
    LSTMLM,
    count_params,
    detach_state,
    egru_lm_to_numpy,
    prunable_weights,
    sequence_nll,
    upgrade_training_state,
)

__all__ = ["TrainConfig", "train", "evaluate_test", "sparsity_schedule", "magnitude_prune",
           "main"]


@dataclass
class TrainConfig:
    model: str = "egru"  # egru | lstm
    corpus: str = "ptb"
    data: str | None = None
    emb: int = 96
    layers: list[int] = field(default_factory=lambda: [192, 96])
    thr_mean: float = 0.01
    dropout_emb: float = 0.1
    dropout_between: float = 0.1
    dropout_out: float = 0.1
    dropconnect: float = 0.0
    batch: int = 32
    bptt: int = 35
    lr: float = 2e-3
    weight_decay: float = 0.01
    clip: float = 0.25
    epochs: int = 1000
    minutes: float = 40.0
    seed: int = 0
    threads: int = 1
    run: str = "runs/lm"
    init_from: str | None = None
    prune_to: float = 0.0
    prune_start: float = 0.0
    prune_end: float = 0.6
    prune_every: int = 20
    save_every_min: float = 3.0
    valid_tokens: int | None = None  # limit validation (tests); None = whole split
    test_tokens: int | None = None  # limit the batch-1 test (tests); None = whole split
    progress: bool = True
    softmax: str = "full"  # full | sampled
    samples: int = 1024  # sampled softmax: negatives per batch
    activity_reg: float = 0.0  # λ of the activity loss (EGRU only)
    activity_target: float = 0.0  # event rate per layer the activity loss allows for free
    embedding_storage: str = "float32"  # float32 | float16 (rounded at the end of training)
    prune_embedding: bool = False  # prune the tied embedding/decoder too (on-chip decoder)


def sparsity_schedule(progress: float, target: float, start: float, end: float) -> float:
    """Cubic gradual-pruning schedule (Zhu & Gupta 2017) over budget progress in [0, 1]."""
    if target <= 0 or progress < start:
        return 0.0
    if progress >= end or end <= start:
        return target
    frac = (progress - start) / (end - start)
    return target * (1.0 - (1.0 - frac) ** 3)


@torch.no_grad()
def magnitude_prune(weights: dict[str, torch.nn.Parameter], sparsity: float,
                    masks: dict[str, torch.Tensor]) -> None:
    """Zero the smallest-|w| fraction ``sparsity`` of each matrix (exactly floor(s·n) entries).

    Weights already pruned stay pruned (their magnitude is 0, so they are chosen first).
    """
    for name, w in weights.items():
        n = w.numel()
        k = int(math.floor(sparsity * n))
        mask = torch.ones(n, dtype=torch.bool)
        if k > 0:
            # stable sort: ties broken by index, so the result is deterministic
            order = torch.sort(w.detach().abs().reshape(-1), stable=True).indices
            mask[order[:k]] = False
        mask = mask.view_as(w)
        w.mul_(mask)
        masks[name] = mask


def _batchify(data: np.ndarray, batch: int) -> torch.Tensor:
    n = len(data) // batch
    return torch.from_numpy(data[: n * batch].reshape(batch, n).T.copy())  # (N, B)


def _build(cfg: TrainConfig, vocab_size: int):
    cls = {"egru": EGRULM, "lstm": LSTMLM}[cfg.model]
    return cls(vocab_size, cfg.emb, list(cfg.layers), thr_mean=cfg.thr_mean,
               dropout_emb=cfg.dropout_emb, dropout_between=cfg.dropout_between,
               dropout_out=cfg.dropout_out, dropconnect=cfg.dropconnect, seed=cfg.seed)


def _atomic_torch_save(obj, path: Path) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes_atomic(path, buf.getvalue())


def _atomic_json(obj, path: Path) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=True))


@torch.no_grad()
def evaluate_batched(model, data: np.ndarray, batch: int = 10, bptt: int = 70) -> float:
    """Mean NLL (nats) with a carried state over ``data`` split into ``batch`` streams."""
    model.eval()
    src = _batchify(data, batch)
    state = None
    total, count = 0.0, 0
    for i in range(0, src.shape[0] - 1, bptt):
        n = min(bptt, src.shape[0] - 1 - i)
        x, y = src[i:i + n], src[i + 1:i + 1 + n]
        logits, state, _ = model(x, state)
        total += float(sequence_nll(logits, y)) * y.numel()
        count += y.numel()
    model.train()
    return total / max(count, 1)


def evaluate_test(model, corpus_split: np.ndarray, vocab, progress: bool = False) -> dict:
    """Test perplexity at batch size 1 over the whole split, plus per-layer activity (EGRU).

    EGRU: by the numpy reference LMModel (the simulator's oracle). LSTM: torch, batch 1.
    """
    if isinstance(model, EGRULM):
        lm = egru_lm_to_numpy(model, vocab)
        ev = lm.evaluate(corpus_split, progress=progress)
        return {"test_tokens": ev.tokens, "test_nll": ev.nll_nats, "test_ppl": ev.perplexity,
                "activity": ev.activity, "activation_sparsity": ev.activation_sparsity,
                "evaluator": "numpy reference, batch 1"}
    nll = evaluate_batched(model, corpus_split, batch=1, bptt=1000)
    return {"test_tokens": int(len(corpus_split) - 1), "test_nll": nll, "test_ppl": math.exp(nll),
            "activity": [1.0] * len(model.layer_sizes),
            "activation_sparsity": [0.0] * len(model.layer_sizes),
            "evaluator": "torch, batch 1"}


def _weight_sparsity(model) -> dict:
    ws = prunable_weights(model)
    zeros = sum(int((w == 0).sum()) for w in ws.values())
    total = sum(w.numel() for w in ws.values())
    allp = sum(p.numel() for p in model.parameters())
    emb = model.encoder.weight
    return {"recurrent": zeros / total, "overall": zeros / allp,
            "embedding": float((emb == 0).float().mean()),
            "per_matrix": {n: float((w == 0).float().mean()) for n, w in ws.items()}}


def _load_init(model, path: str) -> dict:
    """Start from another run's weights (RUN dir / state.pt); returns its results for provenance."""
    p = Path(path)
    state_path = p / "state.pt" if p.is_dir() else p
    if not state_path.is_file():
        raise S2SimError(f"--init-from: {state_path} not found")
    st = torch.load(state_path, map_location="cpu", weights_only=False)
    model.load_state_dict(st["model"])
    res = p / "results.json" if p.is_dir() else None
    return json.loads(res.read_text()) if res and res.is_file() else {}


def _save_lstm_npz(model: LSTMLM, path: Path, meta: dict) -> None:
    arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())


def _resume_or_init(cfg: TrainConfig, model, opt, state_path: Path, st: dict, log) -> dict:
    """The run's training state: resumed from ``state.pt`` when there is one (model, optimiser
    and RNG restored), else ``st`` (the model initialised from ``--init-from`` if given)."""
    if state_path.is_file():
        saved = torch.load(state_path, map_location="cpu", weights_only=False)
        # a state saved before the nn.Linear layout of the EGRU (EvNN names) still resumes
        saved["model"], saved["opt"], saved["st"]["masks"] = upgrade_training_state(
            model, saved["model"], saved["opt"], saved["st"].get("masks", {}))
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        torch.set_rng_state(saved["rng"])
        st = saved["st"]
        log(f"resumed {state_path.parent} at step {st['step']}, epoch {st['epoch']}, "
            f"{st['elapsed_s'] / 60:.1f} min elapsed")
    elif cfg.init_from:
        st["init"] = _load_init(model, cfg.init_from)
        log(f"initialised from {cfg.init_from}")
    return st


def _prune(cfg: TrainConfig, st: dict, weights, masks, progress: float) -> None:
    s = sparsity_schedule(progress, cfg.prune_to, cfg.prune_start, cfg.prune_end)
    if s > 0:
        magnitude_prune(weights, s, masks)
        st["sparsity_now"] = s


def _apply_masks(weights, masks) -> None:
    if masks:
        with torch.no_grad():
            for name, m in masks.items():
                weights[name].mul_(m)


def train(cfg: TrainConfig, corpus: Corpus, log=print) -> dict:
    """Train (or continue) the run in ``cfg.run``; returns the results dict (also written)."""
    torch.set_num_threads(cfg.threads)
    run = Path(cfg.run)
    run.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    model = _build(cfg, corpus.vocab_size)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    train_data = _batchify(corpus.train, cfg.batch)
    n_batches = (train_data.shape[0] - 1 + cfg.bptt - 1) // cfg.bptt
    valid = corpus.valid if cfg.valid_tokens is None else corpus.valid[: cfg.valid_tokens]
    st = {"step": 0, "epoch": 0, "pos": 0, "elapsed_s": 0.0, "cpu_s": 0.0, "history": [],
          "masks": {}, "init": None}
    state_path = run / "state.pt"
    st = _resume_or_init(cfg, model, opt, state_path, st, log)
    weights = prunable_weights(model, embedding=cfg.prune_embedding)
    masks = st["masks"]
    sampler = _sampler(cfg, corpus, st)
    budget_s = cfg.minutes * 60.0
    hidden = None
    t_wall, t_cpu = time.time(), time.process_time()
    base_elapsed, base_cpu = st["elapsed_s"], st["cpu_s"]
    last_save = time.time()

    def elapsed():
        return base_elapsed + time.time() - t_wall

    def save_state():
        if sampler is not None:
            st["sampler_rng"] = sampler.get_state()
        st["elapsed_s"] = elapsed()
        st["cpu_s"] = base_cpu + time.process_time() - t_cpu
        _atomic_torch_save({"model": model.state_dict(), "opt": opt.state_dict(),
                            "rng": torch.get_rng_state(), "st": st, "cfg": asdict(cfg)},
                           state_path)

    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=n_batches, initial=st["pos"] // cfg.bptt, desc=f"epoch {st['epoch']}",
                   mininterval=30, file=sys.stderr)
    model.train()
    loss_acc, loss_n = 0.0, 0
    while st["epoch"] < cfg.epochs and elapsed() < budget_s:
        i = st["pos"]
        if i >= train_data.shape[0] - 1:  # end of epoch: validate
            vl = evaluate_batched(model, valid)
            st["history"].append({"epoch": st["epoch"], "step": st["step"], "valid_nll": vl,
                                  "valid_ppl": math.exp(vl), "elapsed_s": elapsed(),
                                  ("train_sampled_ppl" if sampler else "train_ppl"):
                                      math.exp(loss_acc / max(loss_n, 1))})
            log(f"epoch {st['epoch']} done: valid ppl {math.exp(vl):.1f} "
                f"({elapsed() / 60:.1f} min)")
            st["epoch"] += 1
            st["pos"] = 0
            hidden = None
            loss_acc, loss_n = 0.0, 0
            if bar is not None:
                bar.reset()
                bar.set_description(f"epoch {st['epoch']}")
            continue
        n = min(cfg.bptt, train_data.shape[0] - 1 - i)
        x, y = train_data[i:i + n], train_data[i + 1:i + 1 + n]
        hidden = detach_state(hidden) if hidden is not None else None
        loss, hidden = _batch_loss(cfg, model, x, y, hidden, sampler)
        opt.zero_grad(set_to_none=True)
        (loss + _activity_loss(cfg, model)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        if cfg.prune_to > 0 and st["step"] % cfg.prune_every == 0:
            # progress through the budget: time or epochs, whichever is further along
            prog = max(elapsed() / budget_s,
                       (st["epoch"] + st["pos"] / train_data.shape[0]) / max(cfg.epochs, 1))
            _prune(cfg, st, weights, masks, prog)
        _apply_masks(weights, masks)
        loss_acc += loss.item()
        loss_n += 1
        st["step"] += 1
        st["pos"] = i + n
        if bar is not None:
            bar.update(1)
            if st["step"] % 50 == 0:
                bar.set_postfix(loss=f"{loss_acc / loss_n:.3f}", min=f"{elapsed() / 60:.1f}")
        if time.time() - last_save > cfg.save_every_min * 60:
            save_state()
            last_save = time.time()
    if bar is not None:
        bar.close()
    # end of budget: make the final sparsity exact before evaluating
    if cfg.prune_to > 0:
        magnitude_prune(weights, cfg.prune_to, masks)
        st["sparsity_now"] = cfg.prune_to
    save_state()
    vl, storage = _final_valid(cfg, model, valid)
    log(f"final valid ppl {math.exp(vl):.1f}; testing at batch size 1 ...")
    test_split = corpus.test if cfg.test_tokens is None else corpus.test[: cfg.test_tokens]
    t0 = time.time()
    test = evaluate_test(model, test_split, corpus.vocab, progress=cfg.progress)
    results = {
        "config": asdict(cfg),
        "corpus": corpus.name,
        "vocab_size": corpus.vocab_size,
        "params": count_params(model),
        "steps": st["step"],
        "epochs_completed": st["epoch"],
        "epoch_fraction": st["epoch"] + st["pos"] / max(train_data.shape[0] - 1, 1),
        "train_tokens_seen": st["step"] * cfg.bptt * cfg.batch,
        "wall_minutes": st["elapsed_s"] / 60,
        "cpu_minutes": st["cpu_s"] / 60,
        "valid_ppl": math.exp(vl),
        **storage,
        "history": st["history"],
        "weight_sparsity": _weight_sparsity(model),
        "test_eval_seconds": time.time() - t0,
        "init_from": cfg.init_from,
        "init_results": {k: st["init"][k] for k in ("wall_minutes", "test_ppl", "steps")
                         if st["init"] and k in st["init"]},
        **test,
    }
    provenance = {"data": corpus.name, "data_dir": str(corpus.source_dir),
                  "epochs": results["epoch_fraction"], "seed": cfg.seed,
                  "valid_ppl": results["valid_ppl"], "test_ppl": results["test_ppl"],
                  "test_batch_size": 1, "wall_minutes": results["wall_minutes"],
                  "init_from": cfg.init_from, "init_results": results["init_results"],
                  "command": "python -m models.egru.train " + " ".join(_cli_args(cfg)),
                  "machine": f"2-core CPU, torch threads={cfg.threads}",
                  # enough to continue the run: rerun the command (it resumes from state.pt)
                  "budget": {"minutes": cfg.minutes, "epochs": cfg.epochs,
                             "wall_minutes_spent": results["wall_minutes"],
                             "cpu_minutes_spent": results["cpu_minutes"]},
                  "state": {"path": str(Path(cfg.run) / "state.pt"), "steps": st["step"],
                            "epoch": st["epoch"], "position": st["pos"]},
                  **storage}
    sparsity = {"activation": test["activation_sparsity"], "activity": test["activity"]}
    if isinstance(model, EGRULM):
        from models.egru.checkpoint import save_checkpoint

        lm = egru_lm_to_numpy(model, corpus.vocab)
        save_checkpoint(run / "model.npz", lm, {"provenance": provenance, "sparsity": sparsity,
                                               "name": run.name})
        results["checkpoint"] = str(run / "model.npz")
    else:
        _save_lstm_npz(model, run / "lstm.npz", {"format": "s2sim-lstm-lm", "version": 1,
                                                "provenance": provenance,
                                                "arch": {"emb": cfg.emb, "layers": cfg.layers,
                                                         "vocab_size": corpus.vocab_size}})
        results["checkpoint"] = str(run / "lstm.npz")
    _atomic_json(results, run / "results.json")
    log(f"test ppl (batch 1) {results['test_ppl']:.2f}; activity {results['activity']}; "
        f"weight sparsity {results['weight_sparsity']['recurrent']:.3f}")
    return results


def _sampler(cfg: TrainConfig, corpus: Corpus, st: dict) -> UnigramSampler | None:
    """The sampled softmax's proposal (its generator resumed from ``st``), or None."""
    if cfg.softmax != "sampled":
        return None
    sampler = UnigramSampler(corpus.train, corpus.vocab_size, seed=cfg.seed)
    if "sampler_rng" in st:
        sampler.set_state(st["sampler_rng"])
    return sampler


def _final_valid(cfg: TrainConfig, model, valid) -> tuple[float, dict]:
    """Validation NLL of the model as saved (embedding rounded to float16 if asked: then the
    perplexity before the rounding is recorded too)."""
    vl = evaluate_batched(model, valid)
    storage = {"embedding_storage": cfg.embedding_storage}
    if cfg.embedding_storage == "float16":
        storage["valid_ppl_float32_embedding"] = math.exp(vl)
        with torch.no_grad():
            model.encoder.weight.copy_(model.encoder.weight.half().float())
        vl = evaluate_batched(model, valid)
    return vl, storage


def _batch_loss(cfg: TrainConfig, model, x, y, hidden, sampler):
    """The batch's next-token NLL (full or sampled softmax) and the carried state."""
    if sampler is None:
        logits, hidden, _ = model(x, hidden)
        return sequence_nll(logits, y), hidden
    h, hidden, _ = model.hidden(x, hidden)
    h = model.drop_out(h).reshape(-1, h.shape[-1])
    loss = sampled_softmax_nll(h, y.reshape(-1), model.encoder.weight, model.decoder_bias,
                               sampler, cfg.samples)
    return loss, hidden


def _activity_loss(cfg: TrainConfig, model):
    """λ · Σ_l max(0, rate_l − target) over the EGRU layers of the last forward (0 if off)."""
    if cfg.activity_reg <= 0 or not isinstance(model, EGRULM):
        return 0.0
    rates = [r.last_events.mean() for r in model.rnns]
    return cfg.activity_reg * sum(torch.relu(rate - cfg.activity_target) for rate in rates)


def _cli_args(cfg: TrainConfig) -> list[str]:
    d = TrainConfig()
    out = []
    always = ("model", "corpus", "emb", "layers", "minutes", "run")
    for k, v in asdict(cfg).items():
        if k in ("progress", "data") or (v == getattr(d, k) and k not in always):
            continue
        flag = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            out += [flag] if v else []
        else:
            out += [flag, *map(str, v)] if isinstance(v, list) else [flag, str(v)]
    return out


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    ap = argparse.ArgumentParser(prog="python -m models.egru.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["egru", "lstm"], default=d.model)
    ap.add_argument("--corpus", choices=["ptb", "wikitext-2"], default=d.corpus)
    ap.add_argument("--data", default=None, help="data dir (else $S2SIM_DATA, else ../shared/data)")
    ap.add_argument("--emb", type=int, default=d.emb)
    ap.add_argument("--layers", type=int, nargs="+", default=d.layers)
    for k in ("thr_mean", "dropout_emb", "dropout_between", "dropout_out", "dropconnect", "lr",
              "weight_decay", "clip", "minutes", "prune_to", "prune_start", "prune_end",
              "save_every_min"):
        ap.add_argument("--" + k.replace("_", "-"), type=float, default=getattr(d, k))
    for k in ("batch", "bptt", "epochs", "seed", "threads", "prune_every", "valid_tokens",
              "test_tokens"):
        ap.add_argument("--" + k.replace("_", "-"), type=int, default=getattr(d, k))
    ap.add_argument("--softmax", choices=["full", "sampled"], default=d.softmax,
                    help="training loss over the vocabulary (evaluation is always full)")
    ap.add_argument("--samples", type=int, default=d.samples,
                    help="sampled softmax: negatives drawn per batch")
    ap.add_argument("--activity-reg", type=float, default=d.activity_reg,
                    help="weight λ of the activity loss (EGRU)")
    ap.add_argument("--activity-target", type=float, default=d.activity_target,
                    help="event rate per layer the activity loss allows for free")
    ap.add_argument("--embedding-storage", choices=["float32", "float16"],
                    default=d.embedding_storage,
                    help="round the embedding to float16 at the end (half the checkpoint)")
    ap.add_argument("--prune-embedding", action="store_true",
                    help="prune the tied embedding/decoder like the recurrent weights "
                         "(for s2sim's --decoder chip)")
    ap.add_argument("--run", default=d.run, help="run directory (state, results, checkpoint)")
    ap.add_argument("--init-from", default=None, help="start from another run dir's weights")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--eval-only", action="store_true",
                    help="re-evaluate RUN/state.pt at batch 1 without training")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    kw = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    kw["progress"] = not args.no_progress
    cfg = TrainConfig(**kw)
    try:
        corpus = load_corpus(cfg.corpus, cfg.data)
        if args.eval_only:
            state_path = Path(cfg.run) / "state.pt"
            if not state_path.is_file():
                raise S2SimError(f"--eval-only: {state_path} not found")
            saved = torch.load(state_path, map_location="cpu", weights_only=False)
            cfg = TrainConfig(**dict(saved["cfg"], progress=cfg.progress, run=cfg.run))
            cfg.epochs = 0  # no training: the loop ends at once, evaluation follows
        train(cfg, corpus)
    except S2SimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
