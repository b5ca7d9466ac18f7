"""Measured GPU baseline: the torch copy runs the reference math; CUDA run skipped without GPU."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models.egru.paper import paper_shape_model  # noqa: E402
from s2sim.baselines.measure import TorchLM, main, measure_lm  # noqa: E402
from s2sim.errors import S2SimError  # noqa: E402


@pytest.fixture(scope="module")
def tiny_lm():
    return paper_shape_model(seed=3, vocab_size=40, embedding_dim=8, layers=(12, 8),
                             activity=(0.3, 0.3))


def test_torch_copy_matches_numpy_reference(tiny_lm):
    torch.set_num_threads(1)
    tokens = np.arange(30) % tiny_lm.vocab_size
    lm = TorchLM(tiny_lm, "cpu")
    state = tiny_lm.stack.zero_state()
    for tok in tokens:
        y_ref, state = tiny_lm.stack.step(tiny_lm.embedding[tok], state)
        probs = lm.step(int(tok)).numpy()
        logits = y_ref @ tiny_lm.embedding.T + tiny_lm.decoder_bias
        ref = np.exp(logits - logits.max())
        ref /= ref.sum()
        np.testing.assert_allclose(probs, ref, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(lm.state[-1][0].numpy(), y_ref, atol=1e-5)


def test_measure_on_cpu_without_energy(tiny_lm):
    torch.set_num_threads(1)
    r = measure_lm(tiny_lm, "tiny", device="cpu", window_s=1.0, warmup_tokens=5)
    assert r.method == "measured" and r.label == "measured on cpu"
    assert r.window_s >= 1.0 and r.tokens_timed >= 70
    assert r.latency_per_token_s == pytest.approx(r.window_s / r.tokens_timed)
    assert r.energy_per_token_j == 0.0


def test_window_shorter_than_a_second_is_refused(tiny_lm):
    with pytest.raises(S2SimError, match="at least 1.0 s"):
        measure_lm(tiny_lm, "tiny", device="cpu", window_s=0.5)


def test_cuda_refused_cleanly_without_gpu(tiny_lm):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(S2SimError, match="CUDA is not available"):
        measure_lm(tiny_lm, "tiny", device="cuda")


@pytest.mark.gpu
def test_measured_on_gpu(tmp_path, tiny_lm):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    r = measure_lm(tiny_lm, "tiny", device="cuda", window_s=1.0)
    assert r.label.startswith("measured on ")
    assert r.energy_per_token_j > 0 and r.average_power_w > 0


@pytest.mark.gpu
def test_measure_script_paper(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    assert main(["--model", "paper", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "gpu_measured.json").is_file()


# -- eager + CUDA-graph loops: what runs without CUDA -------------------------------------------


def test_step_inplace_matches_step_and_keeps_the_state_buffers(tiny_lm):
    a, b = TorchLM(tiny_lm, "cpu"), TorchLM(tiny_lm, "cpu")
    ptrs = [(y.data_ptr(), c.data_ptr()) for y, c in b.state]
    with torch.no_grad():
        for tok in range(12):
            pa, pb = a.step(tok), b.step_inplace(torch.tensor(tok))
            torch.testing.assert_close(pa, pb)
    assert [(y.data_ptr(), c.data_ptr()) for y, c in b.state] == ptrs
    b.reset()
    assert all(float(y.abs().sum()) == 0 and float(c.abs().sum()) == 0 for y, c in b.state)
    assert [(y.data_ptr(), c.data_ptr()) for y, c in b.state] == ptrs


def test_parse_modes():
    from s2sim.baselines.measure import parse_modes

    assert parse_modes("eager,graph") == ["eager", "graph"]
    assert parse_modes(" graph ") == ["graph"]
    for bad in ("", "fast", "eager,jit"):
        with pytest.raises(S2SimError, match="--mode"):
            parse_modes(bad)


def test_graph_mode_needs_cuda(tiny_lm):
    with pytest.raises(S2SimError, match="CUDA"):
        measure_lm(tiny_lm, "tiny", device="cpu", mode="graph")


def test_main_without_cuda_fails_with_one_line(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["--model", "small,paper", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("s2sim: error: ")
    assert "CUDA is not available" in err
    assert not (tmp_path / "gpu_measured.json").exists()


def test_main_eager_on_cpu_writes_json_with_environment(tmp_path, capsys):
    import json

    torch.set_num_threads(1)
    assert main(["--model", "small", "--mode", "eager", "--device", "cpu", "--window-s", "1",
                 "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "gpu_measured.json").read_text())
    assert len(data) == 1 and data[0]["label"] == "measured on cpu"
    assert data[0]["model_name"] == "small" and data[0]["tokens_timed"] >= 70
    assert {"torch", "date", "device"} <= set(data[0]["environment"])


@pytest.mark.gpu
def test_graph_loop_matches_eager_on_gpu(tiny_lm):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    from s2sim.baselines.measure import GraphSequence

    toks = torch.arange(70, device="cuda") % tiny_lm.vocab_size
    eager, graphed = TorchLM(tiny_lm, "cuda"), TorchLM(tiny_lm, "cuda")
    with torch.no_grad():
        ref = [eager.step(t) for t in toks]
        g = GraphSequence(graphed, toks)
        graphed.reset()
        g.run(toks)
        torch.cuda.synchronize()
    torch.testing.assert_close(g.probs[-1], ref[-1], rtol=1e-4, atol=1e-6)


@pytest.mark.gpu
def test_measure_script_small_and_paper_eager_and_graph(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    assert main(["--model", "small,paper", "--window-s", "1", "--out", str(tmp_path)]) == 0
    import json

    data = json.loads((tmp_path / "gpu_measured.json").read_text())
    assert [(d["model_name"], "graph" in d["label"]) for d in data] == [
        ("small", False), ("small", True), ("paper", False), ("paper", True)]
    assert all(d["energy_per_token_j"] > 0 and d["environment"]["driver"] for d in data)
