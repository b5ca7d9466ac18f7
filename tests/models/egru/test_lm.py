"""models.egru.lm: the LM's next-token scoring (``LMModel.evaluate``, ``NextTokenScorer``)."""

import math

import numpy as np
import pytest

from models.egru.errors import ModelError
from models.egru.paper import paper_shape_model


@pytest.fixture(scope="module")
def lm():
    return paper_shape_model(seed=3, vocab_size=40, embedding_dim=12, layers=(20, 12),
                             activity=(0.3, 0.3))


def _step_by_step_nll(lm, tokens, state=None):
    """The specification: step the stack token by token, tied decoder, float64 log-sum-exp,
    terms summed in step order."""
    state = lm.stack.zero_state() if state is None else state
    nll = 0.0
    for t in range(tokens.size - 1):
        y, state = lm.stack.step(lm.embedding[tokens[t]], state)
        lg = lm.logits(y).astype(np.float64)
        m = lg.max()
        nll += m + math.log(np.exp(lg - m).sum()) - lg[tokens[t + 1]]
    return nll / (tokens.size - 1)


@pytest.mark.parametrize("window", [1, 7, 2048])
def test_evaluate_is_the_step_by_step_specification_bit_for_bit(lm, window, monkeypatch):
    monkeypatch.setattr(type(lm), "EVAL_WINDOW", window)
    tokens = np.random.default_rng(1).integers(0, 40, 50)
    ev = lm.evaluate(tokens)
    assert ev.nll_nats == _step_by_step_nll(lm, tokens)
    assert ev.tokens == 49 and ev.perplexity == math.exp(ev.nll_nats)
    state = [(np.full(h, 0.2, np.float32), np.full(h, 0.4, np.float32)) for h in lm.stack.sizes]
    given = lm.evaluate(tokens, state=[(y.copy(), c.copy()) for y, c in state])
    assert given.nll_nats == _step_by_step_nll(lm, tokens, state)


def test_scorer_fed_window_by_window_equals_evaluate(lm):
    tokens = np.random.default_rng(2).integers(0, 40, 31)
    ev = lm.evaluate(tokens)
    tr = lm.stack.run(lm.embedding[tokens])  # one step more than the predictions: ignored
    s = lm.scorer(tokens)
    for a, b in [(0, 4), (4, 5), (5, 31)]:
        s(a, type(tr)(ys=[y[a:b] for y in tr.ys], cs=[c[a:b] for c in tr.cs], events=[]))
    r = s.result()
    assert (r.nll_nats, r.events, r.activity) == (ev.nll_nats, ev.events, ev.activity)
    s(0, tr)  # a = 0 starts over
    assert s.result().nll_nats == ev.nll_nats


def test_scorer_refuses_gaps_short_streams_and_bad_tokens(lm):
    tokens = np.random.default_rng(3).integers(0, 40, 20)
    tr = lm.stack.run(lm.embedding[tokens])
    s = lm.scorer(tokens)
    part = type(tr)(ys=[y[:5] for y in tr.ys], cs=[c[:5] for c in tr.cs], events=[])
    s(0, part)
    with pytest.raises(ModelError, match="saw 5 of the 19 predicting steps"):
        s.result()
    with pytest.raises(ModelError, match="starts at step 9, expected 5"):
        s(9, part)
    with pytest.raises(ModelError, match="at least 2 tokens"):
        lm.scorer(tokens[:1])
    with pytest.raises(ModelError, match="out of range"):
        lm.evaluate(np.array([3, 40]))
    with pytest.raises(ModelError, match="out of range"):
        lm.evaluate(np.array([-1, 3]))
