"""Regenerate the golden reports: ``python tests/golden/regenerate.py`` (from the repo root)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import GOLDEN_DIR, WORKLOADS, argv, ensure_checkpoint  # noqa: E402

from s2sim.cli import main  # noqa: E402


def regenerate() -> int:
    ensure_checkpoint()
    for name in WORKLOADS:
        rc = main(argv(name, GOLDEN_DIR / name))
        if rc != 0:
            print(f"golden workload {name} failed (exit {rc})", file=sys.stderr)
            return rc
        print(f"regenerated tests/golden/{name}/report.json")
    return 0


if __name__ == "__main__":
    sys.exit(regenerate())
