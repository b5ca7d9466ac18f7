"""Small reference workloads whose reports are pinned under tests/golden/<name>/report.json.

Regenerate them all (after an intended change of the simulator or its numbers) with::

    python tests/golden/regenerate.py

and commit the changed ``tests/golden`` files together with the change that explains them.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent
TINY_CHECKPOINT = GOLDEN_DIR / "tiny_lm.npz"

# name -> `s2sim bench lm` arguments (the model path is filled in by argv())
WORKLOADS: dict[str, list[str]] = {
    "lm-tiny-analytic": ["--tokens", "70", "--engine", "analytic"],
    "lm-tiny-des": ["--tokens", "24", "--engine", "des"],
    "lm-tiny-des-pl0": ["--tokens", "12", "--engine", "des", "--pl", "0"],
}


def make_tiny_model():
    """A 2-layer EGRU LM small enough to simulate in seconds (vocabulary 64, layers 32/16)."""
    from models.egru.paper import paper_shape_model

    return paper_shape_model(seed=7, vocab_size=64, embedding_dim=16, layers=(32, 16),
                             activity=(0.25, 0.25))


def ensure_checkpoint(path: Path = TINY_CHECKPOINT) -> Path:
    if not path.is_file():
        from models.egru.checkpoint import save_checkpoint

        save_checkpoint(path, make_tiny_model(), {"provenance": "tests/golden/workloads.py"})
    return path


def argv(name: str, out: Path, checkpoint: Path = TINY_CHECKPOINT) -> list[str]:
    # relative to the working directory where possible, so the report's command reads well
    model = os.path.relpath(checkpoint) if not os.path.relpath(checkpoint).startswith("..") \
        else str(checkpoint)
    return ["bench", "lm", "--model", model, *WORKLOADS[name], "--gpus", "all",
            "--out", str(out), "--no-plots", "--quiet"]
