"""Resolve a `--model` argument (small | paper | shipped name | PATH) to a language model.

``small``  the shipped, trained, 95 %-pruned PTB EGRU (``NAMED_CHECKPOINTS`` of models.egru);
``paper``  the paper-shape model (3 x EGRU 1350/1350/750, V 33,278, 95 % pruned, generated and
           activity-calibrated: ``models.egru.paper``);
other shipped names (``NAMED_CHECKPOINTS``), or ``PATH`` to a checkpoint written by
``models.egru.checkpoint.save_checkpoint``.
"""

from __future__ import annotations

from pathlib import Path

from s2sim.errors import S2SimError


def checkpoint_path(spec: str) -> Path:
    """The checkpoint file a (non-paper) ``--model`` names; one-line error if there is none."""
    from models.egru.checkpoint import NAMED_CHECKPOINTS, named_checkpoint_path

    if spec in NAMED_CHECKPOINTS:
        return named_checkpoint_path(spec)
    path = Path(spec)
    if not path.is_file():
        raise S2SimError(f"--model {spec}: no such checkpoint file (or use one of "
                         f"{', '.join(['paper', *NAMED_CHECKPOINTS])})")
    return path


def load_lm(spec: str, seed: int = 0):
    """``(name, source, LMModel)`` for ``paper``, a shipped name or a checkpoint path."""
    if spec == "paper":
        from models.egru.paper import paper_shape_model

        source = f"paper shape, generated and activity-calibrated (models.egru.paper, seed {seed})"
        return "paper", source, paper_shape_model(seed=seed)
    from models.egru.checkpoint import NAMED_CHECKPOINTS, load_checkpoint

    path = checkpoint_path(spec)
    if spec in NAMED_CHECKPOINTS:
        return spec, f"shipped checkpoint {path.name}", load_checkpoint(path)
    return path.stem, f"checkpoint {path}", load_checkpoint(path)
