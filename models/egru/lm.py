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

__all__ = ["LMModel", "LMEval", "vocab_sha256", "HOST", "CHIP"]

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
    def embed(self, tokens) -> np.ndarray:
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ModelError(f"token id out of range [0, {self.vocab_size})")
        return self.embedding[tokens]

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

    def evaluate(self, tokens, state=None, progress: bool = False) -> LMEval:
        """Next-token NLL and perplexity at batch size 1 over ``tokens`` (the paper's setting).

        Starts from the zero state (or ``state``) and predicts tokens[1:] from tokens[:-1].
        """
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.size < 2:
            raise ModelError("evaluation needs at least 2 tokens")
        if state is None:
            state = self.stack.zero_state()
        L = len(self.stack.layers)
        events = np.zeros(L, np.int64)
        nll = 0.0
        it = range(tokens.size - 1)
        if progress:
            from tqdm import tqdm

            it = tqdm(it, desc="eval b=1", unit="tok", mininterval=5)
        for t in it:
            y, state = self.stack.step(self.embedding[tokens[t]], state)
            for i, (yl, _) in enumerate(state):
                events[i] += np.count_nonzero(yl)
            lg = self.logits(y).astype(np.float64)
            m = lg.max()
            nll += m + math.log(np.exp(lg - m).sum()) - lg[tokens[t + 1]]
        n = tokens.size - 1
        act = [float(events[i]) / (n * s) for i, s in enumerate(self.stack.sizes)]
        return LMEval(tokens=n, nll_nats=nll / n, perplexity=math.exp(nll / n), activity=act,
                      events=events.tolist())
