"""What a GPU runs for one token of the EGRU language model at batch 1, as a list of kernels.

The model is described by its shapes only (``LMShape``), so the shipped small model, the paper
shape and any checkpoint give a workload without this module knowing how they were built.

Kernels per token (what PyTorch, or a fused EGRU cell such as EvNN's CUDA kernel, launches):
  embedding gather; per EGRU layer: input matmul (x W + b_x), recurrent matmul (y R + b_r), one
  fused gate/state kernel; decoder matmul (tied weights); softmax over the vocabulary.
The matmuls are dense: at batch 1 a GPU gains nothing from unstructured 95 % weight sparsity
(cuSPARSE SpMV on such matrices is not faster than a dense gemv that streams the same bytes
coalesced), nor from activity sparsity, so it streams every weight every token.
"""

from __future__ import annotations

from dataclasses import dataclass

FLOAT32_BYTES = 4
# Elementwise work of one fused EGRU gate/state kernel per unit: 3 bias adds, 2 sigmoids and a
# tanh (counted as ~4 flops each), r*Rh_g, the z-blend (3), threshold compare, event multiply
# and subtractive reset (3). EST: only the order of magnitude matters (the kernel is memory bound).
GATE_FLOPS_PER_UNIT = 24
# Softmax over V logits: max, subtract, exp (~4), sum, divide. EST as above.
SOFTMAX_FLOPS_PER_LOGIT = 8


@dataclass(frozen=True)
class LMShape:
    """Shapes of an embedding -> EGRU stack -> tied decoder -> softmax language model."""

    name: str
    vocab_size: int
    embedding_dim: int
    hidden_sizes: tuple[int, ...]
    decoder_bias: bool = True

    def layer_inputs(self) -> list[int]:
        return [self.embedding_dim, *self.hidden_sizes[:-1]]

    @property
    def decoder_in(self) -> int:
        return self.hidden_sizes[-1]

    def dense_parameter_count(self) -> int:
        n = self.vocab_size * self.embedding_dim
        for n_in, h in zip(self.layer_inputs(), self.hidden_sizes, strict=True):
            n += n_in * 3 * h + h * 3 * h + 2 * 3 * h + h  # W, R, b_x, b_r, theta
        if self.decoder_in != self.embedding_dim:
            n += self.vocab_size * self.decoder_in  # untied decoder
        if self.decoder_bias:
            n += self.vocab_size
        return n


def paper_shape() -> LMShape:
    """The AICAS 2024 deployment: embedding 750, EGRU 1350/1350/750, WikiText-2 vocabulary."""
    return LMShape("paper", vocab_size=33278, embedding_dim=750, hidden_sizes=(1350, 1350, 750))


def shape_of(model, name: str = "model") -> LMShape:
    """Read the shapes of a ``models.egru.lm.LMModel`` (or anything with the same attributes)."""
    emb = model.embedding
    vocab, dim = int(emb.shape[0]), int(emb.shape[1])
    hidden = tuple(int(layer.R.shape[0]) for layer in model.stack.layers)
    bias = getattr(model, "decoder_bias", None)
    return LMShape(name, vocab, dim, hidden, decoder_bias=bias is not None)


@dataclass(frozen=True)
class Kernel:
    """One GPU kernel launch: what it reads and writes from DRAM and how much arithmetic."""

    name: str
    component: str  # embedding | egru | decoder | softmax (groups kernels in reports)
    bytes_moved: int
    flops: int


def _matvec(name: str, component: str, n_in: int, n_out: int, bias: bool) -> Kernel:
    # Weights dominate: n_in x n_out floats streamed once; plus the input vector, the bias and
    # the output vector. 2 flops per MAC, plus one add per output for the bias.
    nbytes = (n_in * n_out + n_in + n_out + (n_out if bias else 0)) * FLOAT32_BYTES
    flops = 2 * n_in * n_out + (n_out if bias else 0)
    return Kernel(name, component, nbytes, flops)


def token_kernels(shape: LMShape) -> list[Kernel]:
    """The kernels of one token, in launch order."""
    ks = [
        # gather one row of the embedding: read E floats + the token id, write E floats
        Kernel("embedding", "embedding", 2 * shape.embedding_dim * FLOAT32_BYTES + 8, 0)
    ]
    for i, (n_in, h) in enumerate(zip(shape.layer_inputs(), shape.hidden_sizes, strict=True)):
        ks.append(_matvec(f"egru{i}.input_matmul", "egru", n_in, 3 * h, bias=True))
        ks.append(_matvec(f"egru{i}.recurrent_matmul", "egru", h, 3 * h, bias=True))
        # reads Wx, Rh (3H each), c_prev, theta (H each); writes y, c (H each)
        ks.append(Kernel(f"egru{i}.gates", "egru", 10 * h * FLOAT32_BYTES,
                         GATE_FLOPS_PER_UNIT * h))
    ks.append(_matvec("decoder", "decoder", shape.decoder_in, shape.vocab_size,
                      bias=shape.decoder_bias))
    # softmax: two reading passes (max, sum of exp) and one writing pass over V logits
    v = shape.vocab_size
    ks.append(Kernel("softmax", "softmax", 3 * v * FLOAT32_BYTES, SOFTMAX_FLOPS_PER_LOGIT * v))
    return ks
