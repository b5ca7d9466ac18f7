"""Sampled softmax for training a tied-decoder LM on a large vocabulary (WikiText-2: 33,278 words).

The full softmax costs V·E multiply-adds per token forward and twice that backward; at V = 33,278
it dominates a CPU training step. Sampled softmax (Jean et al. 2015, "On Using Very Large Target
Vocabulary for Neural Machine Translation"; the form of TensorFlow's ``sampled_softmax_loss``)
scores the target and K words drawn once per batch from a proposal q, each logit corrected by
``− log(K · q(w))`` (the expected count of w among the samples), samples equal to the target
removed, and takes the cross-entropy over those K + 1. Its gradient is an unbiased-in-the-limit
estimate of the full softmax's; evaluation always uses the full softmax.

Why sampled and not ``torch.nn.AdaptiveLogSoftmaxWithLoss``: the adaptive softmax replaces the
decoder by a head and tail clusters with their own projections, so the model is no longer the
tied embedding/decoder the simulator models (host or chip decoder, ``models.egru.lm``) and that
the paper's model has (embedding 750 = top layer 750). Sampled softmax trains the same tied
model that is evaluated and deployed.

Proposal: the unigram distribution of the training split raised to 0.75 (Mikolov et al. 2013),
which samples frequent confusable words often and still reaches the tail.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["UnigramSampler", "sampled_softmax_nll"]


class UnigramSampler:
    """Draws K word ids per call from counts**power (with replacement), from its own generator."""

    def __init__(self, train_tokens: np.ndarray, vocab_size: int, power: float = 0.75,
                 seed: int = 0):
        counts = np.bincount(np.asarray(train_tokens, np.int64), minlength=vocab_size)
        p = counts.astype(np.float64) ** power
        p[counts == 0] = 0.0
        p /= p.sum()
        self.probs = torch.from_numpy(p)
        self.log_probs = torch.log(self.probs.clamp_min(1e-30)).to(torch.float32)
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self, k: int) -> torch.Tensor:
        return torch.multinomial(self.probs, k, replacement=True, generator=self.generator)

    def get_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


def sampled_softmax_nll(h: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor,
                        bias: torch.Tensor, sampler: UnigramSampler, k: int) -> torch.Tensor:
    """Mean sampled-softmax NLL of ``targets`` (N,) given features ``h`` (N, E) and the tied
    decoder ``weight`` (V, E), ``bias`` (V,)."""
    samples = sampler.sample(k)  # (K,)
    logq = sampler.log_probs
    target_logit = (h * weight[targets]).sum(-1) + bias[targets] - (logq[targets] + np.log(k))
    sample_logits = h @ weight[samples].T + bias[samples] - (logq[samples] + np.log(k))
    # a sample equal to the target is not a negative
    sample_logits = sample_logits.masked_fill(targets[:, None] == samples[None, :], float("-inf"))
    logits = torch.cat([target_logit[:, None], sample_logits], dim=1)
    zeros = torch.zeros(h.shape[0], dtype=torch.long)
    return F.cross_entropy(logits, zeros)
