"""Sampled softmax: the proposal, the correction and the removal of accidental hits."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models.egru.sampled_softmax import UnigramSampler, sampled_softmax_nll  # noqa: E402


def test_sampler_follows_counts_to_the_power_and_skips_unseen_words():
    s = UnigramSampler(np.array([0] * 81 + [1] * 16 + [2]), vocab_size=4, power=0.5, seed=1)
    assert s.probs.numpy() == pytest.approx(np.array([9, 4, 1, 0]) / 14)
    draws = s.sample(20000).numpy()
    assert not np.any(draws == 3)
    assert np.bincount(draws, minlength=4)[0] / draws.size == pytest.approx(9 / 14, abs=0.02)


def test_sampler_state_round_trips():
    s = UnigramSampler(np.arange(10), 10, seed=3)
    st = s.get_state()
    a = s.sample(50)
    s.set_state(st)
    assert torch.equal(a, s.sample(50))


def test_sampling_every_word_once_with_uniform_proposal_is_the_full_softmax():
    # q uniform and the K samples exactly the V words: the K+1-way softmax with the target
    # removed from the negatives equals the full softmax (the -log(K q) shift is a constant).
    V, E, N = 7, 5, 9
    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(V, E, generator=g), torch.randn(V, generator=g)
    h, y = torch.randn(N, E, generator=g), torch.randint(0, V, (N,), generator=g)
    s = UnigramSampler(np.arange(V), V, power=1.0)
    s.sample = lambda k: torch.arange(V)
    got = sampled_softmax_nll(h, y, w, b, s, V)
    full = torch.nn.functional.cross_entropy(h @ w.T + b, y)
    assert float(got) == pytest.approx(float(full), rel=1e-5)


def test_gradient_reaches_the_tied_weights():
    V, E = 30, 4
    w = torch.randn(V, E, requires_grad=True)
    b = torch.zeros(V, requires_grad=True)
    s = UnigramSampler(np.arange(V), V, seed=0)
    loss = sampled_softmax_nll(torch.randn(6, E), torch.arange(6), w, b, s, 8)
    loss.backward()
    assert torch.count_nonzero(w.grad[:6].abs().sum(1)) == 6
