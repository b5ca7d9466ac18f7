"""Training code on a tiny synthetic corpus (seconds): learning, resume, pruning, checkpoint."""

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models.egru.checkpoint import load_checkpoint  # noqa: E402
from models.egru.data import Corpus  # noqa: E402
from models.egru.train import (  # noqa: E402
    TrainConfig,
    magnitude_prune,
    sparsity_schedule,
    train,
)


@pytest.fixture(scope="module")
def corpus():
    pat = np.array([1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 0, 10, 11, 3, 0])
    tr = np.tile(pat, 200)
    return Corpus("synthetic", [f"w{i}" for i in range(12)], tr, tr[:300], tr[:120], Path("."))


def _cfg(run, **kw):
    base = dict(model="egru", emb=12, layers=[20, 12], batch=4, bptt=10, epochs=2, minutes=5,
                lr=1e-2, run=str(run), progress=False, thr_mean=0.05)
    base.update(kw)
    return TrainConfig(**base)


def test_egru_learns_and_checkpoint_reproduces_test(corpus, tmp_path):
    r = train(_cfg(tmp_path / "e"), corpus, log=lambda *_: None)
    uniform_ppl = corpus.vocab_size
    assert r["test_ppl"] < 0.5 * uniform_ppl, r["test_ppl"]
    assert len(r["history"]) == 2 and r["epochs_completed"] == 2
    m = load_checkpoint(tmp_path / "e" / "model.npz")
    ev = m.evaluate(corpus.test)
    assert ev.perplexity == pytest.approx(r["test_ppl"], rel=1e-9)
    assert m.meta["provenance"]["data"] == "synthetic"
    assert 0 < r["activity"][0] < 1
    saved = json.loads((tmp_path / "e" / "results.json").read_text())
    assert saved["test_ppl"] == r["test_ppl"]


def test_resume_continues_from_state(corpus, tmp_path):
    r1 = train(_cfg(tmp_path / "r", epochs=1), corpus, log=lambda *_: None)
    logs = []
    r2 = train(_cfg(tmp_path / "r", epochs=2), corpus, log=logs.append)
    assert any("resumed" in s for s in logs)
    assert r2["steps"] == 2 * r1["steps"] and r2["epochs_completed"] == 2


def test_lstm_baseline_same_interface(corpus, tmp_path):
    r = train(_cfg(tmp_path / "l", model="lstm", layers=[16, 12]), corpus, log=lambda *_: None)
    assert r["test_ppl"] < 0.5 * corpus.vocab_size
    assert (tmp_path / "l" / "lstm.npz").is_file()


def test_pruning_reaches_requested_sparsity(corpus, tmp_path):
    train(_cfg(tmp_path / "d", epochs=1), corpus, log=lambda *_: None)
    r = train(_cfg(tmp_path / "p", init_from=str(tmp_path / "d"), prune_to=0.9, prune_every=3,
                   epochs=2), corpus, log=lambda *_: None)
    for name, s in r["weight_sparsity"]["per_matrix"].items():
        assert s == pytest.approx(0.9, abs=0.01), name
    m = load_checkpoint(tmp_path / "p" / "model.npz")
    for layer in m.stack.layers:
        for w in (layer.W, layer.R):
            assert np.count_nonzero(w == 0) == int(np.floor(0.9 * w.size))
    assert m.meta["sparsity"]["weight"]["recurrent"] == pytest.approx(0.9, abs=0.005)
    assert r["test_ppl"] < 0.7 * corpus.vocab_size  # fine-tuned, still predicts


def test_magnitude_prune_exact_and_sticky():
    signs = torch.tensor([-1.0, 1.0]).repeat(50)
    w = torch.nn.Parameter((torch.arange(1.0, 101.0) * signs).reshape(10, 10))
    masks = {}
    magnitude_prune({"w": w}, 0.3, masks)
    w = w.detach()
    assert int((w == 0).sum()) == 30 and float(w.abs().min()) == 0
    assert float(w.abs()[w != 0].min()) == 31  # the 30 smallest magnitudes went
    p = torch.nn.Parameter(w.clone())
    magnitude_prune({"w": p}, 0.95, masks)
    w = p.detach()
    assert int((w == 0).sum()) == 95 and int(masks["w"].sum()) == 5


def test_schedule_is_cubic_and_monotone():
    xs = np.linspace(0, 1, 101)
    s = [sparsity_schedule(x, 0.95, 0.1, 0.6) for x in xs]
    assert s[0] == 0 and s[10] == 0 and s[60] == pytest.approx(0.95) and s[100] == 0.95
    assert all(b >= a for a, b in zip(s, s[1:], strict=False))
    assert sparsity_schedule(0.35, 0.95, 0.1, 0.6) == pytest.approx(0.95 * (1 - 0.5 ** 3))


def test_sampled_softmax_learns_with_float16_embedding(corpus, tmp_path):
    r = train(_cfg(tmp_path / "s", softmax="sampled", samples=6, embedding_storage="float16"),
              corpus, log=lambda *_: None)
    assert r["test_ppl"] < 0.5 * corpus.vocab_size, r["test_ppl"]
    m = load_checkpoint(tmp_path / "s" / "model.npz")
    assert np.array_equal(m.embedding.astype(np.float16).astype(np.float32), m.embedding)
    assert m.meta["arrays"]["embedding"]["dtype"] == "float16"
    assert m.evaluate(corpus.test).perplexity == pytest.approx(r["test_ppl"], rel=1e-9)
    prov = m.meta["provenance"]
    assert prov["budget"]["minutes"] == 5 and prov["state"]["steps"] == r["steps"]
    assert "--softmax sampled" in prov["command"]
    assert r["valid_ppl_float32_embedding"] == pytest.approx(r["valid_ppl"], rel=0.05)


def test_sampled_run_resumes_like_an_uninterrupted_one(corpus, tmp_path):
    kw = dict(softmax="sampled", samples=6)
    whole = train(_cfg(tmp_path / "w", epochs=2, **kw), corpus, log=lambda *_: None)
    train(_cfg(tmp_path / "h", epochs=1, **kw), corpus, log=lambda *_: None)
    resumed = train(_cfg(tmp_path / "h", epochs=2, **kw), corpus, log=lambda *_: None)
    assert resumed["test_ppl"] == pytest.approx(whole["test_ppl"], rel=1e-6)


def test_activity_loss_lowers_the_event_rate(corpus, tmp_path):
    free = train(_cfg(tmp_path / "f", thr_mean=0.02), corpus, log=lambda *_: None)
    reg = train(_cfg(tmp_path / "a", thr_mean=0.02, activity_reg=5.0, activity_target=0.0),
                corpus, log=lambda *_: None)
    assert np.mean(reg["activity"]) < 0.8 * np.mean(free["activity"]), (reg["activity"],
                                                                        free["activity"])


def test_prune_embedding_prunes_the_tied_table_too(corpus, tmp_path):
    train(_cfg(tmp_path / "d0", epochs=1), corpus, log=lambda *_: None)
    r = train(_cfg(tmp_path / "pe", init_from=str(tmp_path / "d0"), prune_to=0.8, prune_every=3,
                   epochs=2, prune_embedding=True), corpus, log=lambda *_: None)
    assert r["weight_sparsity"]["embedding"] == pytest.approx(0.8, abs=0.01)
    m = load_checkpoint(tmp_path / "pe" / "model.npz")
    assert m.meta["arrays"]["embedding"]["storage"] == "csr"
    assert np.count_nonzero(m.embedding == 0) == int(np.floor(0.8 * m.embedding.size))
    assert "--prune-embedding" in m.meta["provenance"]["command"].split()
