"""NeuroBench's own metric code on the shipped torch EGRU equals s2sim's NeuroBench-named metrics
(models.egru.metrics). Skipped when neurobench is not installed (recipe: docs/models.md)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("neurobench")

from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount  # noqa: E402
from neurobench.metrics.workload import (  # noqa: E402
    ActivationSparsity,
    ActivationSparsityByLayer,
    SynapticOperations,
)
from neurobench.models import TorchModel  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from models.egru.checkpoint import load_named  # noqa: E402
from models.egru.metrics import all_metrics  # noqa: E402
from models.egru.torch_egru import EventOutput, egru_lm_from_numpy  # noqa: E402

T = 120  # tokens of the sequence (one NeuroBench sample)


@pytest.fixture(scope="module")
def both():
    lm = load_named("small")
    tokens = np.random.default_rng(0).integers(0, lm.vocab_size, T + 1)
    ours = all_metrics(lm, tokens[:T])
    net = egru_lm_from_numpy(lm)
    model = TorchModel(net)
    model.add_activation_module(EventOutput)  # the EGRU's event output, as NeuroBench asks
    data = TensorDataset(torch.from_numpy(tokens[None, :T]), torch.from_numpy(tokens[None, 1:]))
    bench = Benchmark(model, DataLoader(data, batch_size=1),
                      [lambda d: (d[0].T.contiguous(), d[1])],  # NeuroBench (B, T) -> ours (T, B)
                      [lambda preds: preds[0]],  # logits of (logits, state, outputs)
                      [[Footprint, ConnectionSparsity, ParameterCount],
                       [ActivationSparsity, ActivationSparsityByLayer, SynapticOperations]])
    theirs = bench.run(quiet=True)
    return lm, ours, theirs


def test_activation_sparsity_pooled_and_by_layer(both):
    lm, ours, theirs = both
    assert theirs["ActivationSparsity"] == pytest.approx(ours["activation_sparsity"], abs=1e-12)
    by_layer = theirs["ActivationSparsityByLayer"]
    assert list(by_layer) == [f"events_{i}" for i in range(len(lm.layer_sizes))]
    assert list(by_layer.values()) == pytest.approx(ours["activation_sparsity_by_layer"],
                                                    abs=1e-12)
    # pooled over all neurons: not the mean of the layers (the layers differ in width)
    assert ours["activation_sparsity"] != pytest.approx(np.mean(list(by_layer.values())))


def test_synaptic_operations(both):
    _, ours, theirs = both
    so = theirs["SynapticOperations"]  # per sample = per sequence of T tokens
    assert so["Effective_ACs"] == 0 == ours["synaptic_operations"]["Effective_ACs"]
    assert so["Effective_MACs"] / T == pytest.approx(
        ours["synaptic_operations"]["Effective_MACs"], rel=1e-12)
    assert so["Dense"] / T == pytest.approx(ours["synaptic_operations"]["Dense"], rel=1e-12)


def test_static_metrics(both):
    _, ours, theirs = both
    assert theirs["Footprint"] == ours["footprint"]  # dense bytes, as NeuroBench counts
    assert ours["footprint_csr"] < ours["footprint"]
    assert theirs["ConnectionSparsity"] == round(ours["connection_sparsity"], 4)
    assert theirs["ParameterCount"] == ours["parameter_count"]
