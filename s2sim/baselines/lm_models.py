"""Load the language model a `--model` argument names (names resolved by models.egru.names).

``small``  the shipped, trained, 95 %-pruned PTB EGRU (``NAMED_CHECKPOINTS`` of models.egru);
``paper``  the paper-shape model (3 x EGRU 1350/1350/750, V 33,278, 95 % pruned, generated and
           activity-calibrated: ``models.egru.paper``); ``paper:seed=N`` with its own seed;
other shipped names (``NAMED_CHECKPOINTS``), or ``PATH`` to a checkpoint written by
``models.egru.checkpoint.save_checkpoint``.
"""

from __future__ import annotations


def load_lm(spec: str, seed: int = 0, decoder: str = "host"):
    """``(ref, name, source, LMModel)`` for ``paper``, a shipped name or a checkpoint path;
    ``ref`` is the ``models.egru.names.ModelRef`` the argument resolved to (for a deployment with
    the decoder on ``decoder``: ``models.egru.names.for_decoder``)."""
    from models.egru.checkpoint import load_named
    from models.egru.names import PAPER, for_decoder, resolve_model

    ref = for_decoder(resolve_model(spec, seed), decoder)
    model = load_named(ref)
    if ref.kind == PAPER:
        pruned = (f", embedding pruned to {ref.embedding_sparsity:.0%}"
                  if ref.embedding_sparsity else "")
        source = (f"paper shape, generated and activity-calibrated (models.egru.paper, seed "
                  f"{ref.seed}{pruned})")
        return ref, PAPER, source, model
    if ref.shipped:
        return ref, spec, f"shipped checkpoint {ref.path.name}", model
    return ref, ref.path.stem, f"checkpoint {ref.path}", model
