"""Load the language model a `--model` argument names (names resolved by models.egru.names).

``small``  the shipped, trained, 95 %-pruned PTB EGRU (``NAMED_CHECKPOINTS`` of models.egru);
``paper``  the paper-shape model (3 x EGRU 1350/1350/750, V 33,278, 95 % pruned, generated and
           activity-calibrated: ``models.egru.paper``); ``paper:seed=N`` with its own seed;
other shipped names (``NAMED_CHECKPOINTS``), or ``PATH`` to a checkpoint written by
``models.egru.checkpoint.save_checkpoint``.
"""

from __future__ import annotations


def load_lm(spec: str, seed: int = 0, decoder: str = "host", file=None):
    """``(ref, name, source, LMModel)`` for ``paper``, a shipped name or a checkpoint path;
    ``ref`` is the ``models.egru.names.ModelRef`` the argument resolved to (for a deployment with
    the decoder on ``decoder``: ``models.egru.names.for_decoder``). ``file``: the checkpoint to
    read for the path ``spec`` (a mapping's model, found from the mapping's folder: ``spec`` is
    the path as its bench was given it, which may not hold from here); name and source are
    ``spec``'s, so that the report reads as the first run's."""
    from pathlib import Path

    from models.egru.checkpoint import load_named
    from models.egru.names import PAPER, for_decoder, resolve_model

    if file is not None:
        ref = resolve_model(str(file), seed)
        model = load_named(ref)
        shown = Path(spec.removeprefix("checkpoint:"))  # the path as resolve_model reads it
        return ref, shown.stem, f"checkpoint {shown}", model
    ref = for_decoder(resolve_model(spec, seed), decoder)
    model = load_named(ref)
    if ref.kind == PAPER:
        pruned = (f", embedding pruned to {ref.embedding_sparsity:.0%}"
                  if ref.embedding_sparsity else "")
        source = (f"paper shape, generated and activity-calibrated (models.egru.paper, seed "
                  f"{ref.seed}{pruned})")
        scaled = ref.width_scale != 1 or ref.n_layers != 3
        if scaled:
            source += f", width x{ref.width_scale}, {ref.n_layers} layers"
        return ref, model.meta["name"] if scaled else PAPER, source, model
    if ref.shipped:
        return ref, spec, f"shipped checkpoint {ref.path.name}", model
    return ref, ref.path.stem, f"checkpoint {ref.path}", model
