"""Resolve a `--model` argument (small | paper | PATH) to a language model.

``small``  the model shipped with the package (``models/egru/checkpoints/``), trained on PTB;
``paper``  the paper-shape model (3 x EGRU 1350/1350/750, V 33,278, 95 % pruned, generated and
           activity-calibrated: ``models.egru.paper``);
``PATH``   a checkpoint written by ``models.egru.checkpoint.save_checkpoint``.
"""

from __future__ import annotations

from pathlib import Path

from s2sim.errors import S2SimError

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "models" / "egru" / "checkpoints"


def shipped_checkpoint() -> Path:
    """The shipped small checkpoint (one ``*.npz`` whose name starts with ``small``)."""
    try:  # the models package may name it; fall back to the folder convention
        from models.egru import checkpoint as ck

        p = getattr(ck, "SHIPPED_SMALL", None) or getattr(ck, "SMALL_CHECKPOINT", None)
        if p is not None and Path(p).is_file():
            return Path(p)
    except ImportError:
        pass
    found = sorted(SHIPPED_DIR.glob("small*.npz")) if SHIPPED_DIR.is_dir() else []
    if not found:
        raise S2SimError(
            f"--model small: no shipped checkpoint small*.npz in {SHIPPED_DIR}; "
            "pass --model paper or a checkpoint path"
        )
    return found[0]


def load_lm(spec: str, seed: int = 0):
    """``(name, source, LMModel)`` for ``small``, ``paper`` or a checkpoint path."""
    if spec == "paper":
        from models.egru.paper import paper_shape_model

        source = f"paper shape, generated and activity-calibrated (models.egru.paper, seed {seed})"
        return "paper", source, paper_shape_model(seed=seed)
    from models.egru.checkpoint import load_checkpoint

    if spec == "small":
        path = shipped_checkpoint()
        return "small", f"shipped checkpoint {path.name}", load_checkpoint(path)
    path = Path(spec)
    if not path.exists():
        raise S2SimError(f"--model {spec}: no such checkpoint file (or use small | paper)")
    return path.stem, f"checkpoint {path}", load_checkpoint(path)
