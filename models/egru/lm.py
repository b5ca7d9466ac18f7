"""EGRU language model in numpy: embedding -> EGRU stack -> decoder tied to the embedding.

The recurrent stack is what runs on the chip. The embedding lookup and the tied decoder
(``logits = y_top · Eᵀ + b``) run on the **host**: for the paper's WikiText-2 model the table is
33,278 × 750 float32 = 99.8 MB, far beyond the 128 KiB SRAM of a PE (``placement`` says so, the
compiler reads it). The decoder still only needs the columns of E for units of the top layer that
fired, which ``logits`` exploits.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from models.egru.errors import ModelError
from models.egru.reference import EGRUStack

__all__ = ["LMModel", "LMEval", "NextTokenScorer", "vocab_sha256", "HOST", "CHIP"]

HOST = "host"
CHIP = "chip"


def vocab_sha256(vocab: list[str] | None) -> str | None:
    """Hash of the vocabulary (index order matters): words joined by newlines, UTF-8."""
    if vocab is None:
        return None
    return hashlib.sha256("\n".join(vocab).encode("utf-8")).hexdigest()


@dataclass
class LMEval:
    """Result of evaluating a token stream at batch size 1."""

    tokens: int
    nll_nats: float
    perplexity: float
    activity: list[float]  # per layer: fraction of nonzero outputs
    events: list[int]  # per layer: total events

    @property
    def activation_sparsity(self) -> list[float]:
        return [1.0 - a for a in self.activity]


@dataclass
class LMModel:
    """embedding (V, E) float32, stack: EGRUStack (last layer width E), tied decoder.

    ``decoder_bias`` (V,) float32; ``vocab`` the words in index order (or None when only a hash
    is known, ``meta["vocab_sha256"]``); ``placement`` tells the compiler where each part runs.
    """

    embedding: np.ndarray
    stack: EGRUStack
    decoder_bias: np.ndarray | None = None
    vocab: list[str] | None = None
    meta: dict = field(default_factory=dict)
    placement: dict = field(
        default_factory=lambda: {"embedding": HOST, "stack": CHIP, "decoder": HOST}
    )
    tied: bool = True

    def __post_init__(self):
        emb = np.asarray(self.embedding)
        if emb.ndim != 2 or emb.dtype != np.float32:
            raise ModelError(f"LM embedding: shape {emb.shape} dtype {emb.dtype}, "
                             "expected (V, E) float32")
        V, E = emb.shape
        if self.stack.n_in != E:
            raise ModelError(f"LM stack takes {self.stack.n_in} inputs, embedding has {E}")
        if self.stack.sizes[-1] != E:
            raise ModelError(f"tied decoder needs last layer width {self.stack.sizes[-1]} == "
                             f"embedding size {E}")
        if self.decoder_bias is None:
            self.decoder_bias = np.zeros(V, np.float32)
        b = np.asarray(self.decoder_bias)
        if b.shape != (V,) or b.dtype != np.float32:
            raise ModelError(f"LM decoder_bias: shape {b.shape} dtype {b.dtype}, "
                             f"expected ({V},) float32")
        if self.vocab is not None and len(self.vocab) != V:
            raise ModelError(f"LM vocabulary has {len(self.vocab)} words, embedding {V} rows")
        self.embedding = emb
        self.decoder_bias = b

    # -- convenience attributes the compiler reads ---------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.embedding.shape[0]

    @property
    def embedding_dim(self) -> int:
        return self.embedding.shape[1]

    @property
    def layer_sizes(self) -> list[int]:
        return self.stack.sizes

    @property
    def embedding_placement(self) -> str:
        return self.placement["embedding"]

    @property
    def decoder_placement(self) -> str:
        return self.placement["decoder"]

    @property
    def vocab_hash(self) -> str | None:
        return vocab_sha256(self.vocab) or self.meta.get("vocab_sha256")

    # -- numerics --------------------------------------------------------------------------------
    def check_tokens(self, tokens) -> np.ndarray:
        """``tokens`` as int64, every id in [0, vocab) (ModelError otherwise)."""
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ModelError(f"token id out of range [0, {self.vocab_size})")
        return tokens

    def embed(self, tokens) -> np.ndarray:
        return self.embedding[self.check_tokens(tokens)]

    def logits(self, y_top: np.ndarray) -> np.ndarray:
        """Tied decoder on the top layer's events: only embedding columns of active units."""
        cols = np.flatnonzero(y_top) if y_top.ndim == 1 else np.flatnonzero(np.any(y_top, 0))
        return y_top[..., cols] @ self.decoder_rows[cols] + self.decoder_bias

    @property
    def decoder_rows(self) -> np.ndarray:
        """Eᵀ (E, V) contiguous, so that the rows of active units are gathered cheaply.

        Cached; rebuilt if the embedding array is replaced (not if it is edited in place)."""
        cache = getattr(self, "_dec_cache", None)
        if cache is None or cache[0] is not self.embedding:
            cache = (self.embedding, np.ascontiguousarray(self.embedding.T))
            self._dec_cache = cache
        return cache[1]

    # steps of the stack run at once by ``evaluate`` (outputs of one window held, not of all)
    EVAL_WINDOW = 2048

    def evaluate(self, tokens, state=None, progress: bool = False) -> LMEval:
        """Next-token NLL and perplexity at batch size 1 over ``tokens`` (the paper's setting).

        Starts from the zero state (or ``state``) and predicts tokens[1:] from tokens[:-1]: the
        stack runs window by window (``EGRUStack.run``, the same bits as step by step) and a
        ``NextTokenScorer`` decodes each window's top-layer outputs."""
        tokens = np.asarray(tokens, dtype=np.int64)
        scorer = self.scorer(tokens)
        n = tokens.size - 1
        starts = range(0, n, self.EVAL_WINDOW)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="eval b=1", unit="window", mininterval=5)
        for a in starts:
            tr = self.stack.run(self.embed(tokens[a:min(n, a + self.EVAL_WINDOW)]), state=state)
            state = [(y[-1], c[-1]) for y, c in zip(tr.ys, tr.cs, strict=True)]
            scorer(a, tr)
        return scorer.result()

    def scorer(self, tokens) -> NextTokenScorer:
        """A ``NextTokenScorer`` of ``tokens`` with this model's decoder."""
        return NextTokenScorer(self, tokens)


class NextTokenScorer:
    """Next-token NLL at batch 1 of a token stream, from the stack's outputs as they come.

    Called as ``scorer(a, trace)`` with the ``StackTrace`` of steps a, a+1, ... of the stream
    (from the zero state, windows in step order, a = 0 again starts over): the output of step t
    predicts token t+1, for t < len(tokens) - 1 (later steps are ignored). ``result()`` is the
    ``LMEval`` once every predicting step was seen. This is how ``LMModel.evaluate`` scores, and
    how a simulator run scores perplexity from its own reference pass (``run_mapping(observe=)``).

    Per step: the tied decoder on the top layer's events (``LMModel.logits``), then
    ``max + log(sum(exp(logits - max)))`` in float64, the terms summed in step order. (One
    step at a time: a block of steps' float64 logits outgrows the caches and runs slower.)"""

    def __init__(self, model: LMModel, tokens):
        self.model = model
        self.tokens = model.check_tokens(tokens)
        if self.tokens.size < 2:
            raise ModelError("evaluation needs at least 2 tokens")
        self.n = self.tokens.size - 1  # predictions
        self._reset()

    def _reset(self) -> None:
        self.seen = 0
        self.nll = 0.0
        self.events = np.zeros(len(self.model.stack.layers), np.int64)

    def __call__(self, a: int, trace) -> None:
        if a == 0:
            self._reset()
        if a != self.seen:
            raise ModelError(f"NextTokenScorer: window starts at step {a}, expected {self.seen}")
        y_top = trace.ys[-1]
        b = min(self.n, a + y_top.shape[0])  # the window's predicting steps: a .. b-1
        for i, y in enumerate(trace.ys):
            self.events[i] += np.count_nonzero(y[:max(0, b - a)])
        nll, tgt = self.nll, self.tokens
        for t in range(a, b):
            lg = self.model.logits(y_top[t - a]).astype(np.float64)
            m = lg.max()
            nll += m + math.log(np.exp(lg - m).sum()) - lg[tgt[t + 1]]
        self.nll = nll
        self.seen = a + y_top.shape[0]

    def result(self) -> LMEval:
        if self.seen < self.n:
            raise ModelError(f"NextTokenScorer: saw {self.seen} of the {self.n} predicting steps")
        n = self.n
        act = [float(self.events[i]) / (n * s) for i, s in enumerate(self.model.stack.sizes)]
        return LMEval(tokens=n, nll_nats=self.nll / n, perplexity=math.exp(self.nll / n),
                      activity=act, events=self.events.tolist())
