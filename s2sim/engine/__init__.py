"""s2sim/engine: run a compiled Mapping — functional | analytic | des — one interface.

    from s2sim.engine import run_mapping
    result = run_mapping(mapping, inputs, engine="des")   # -> RunResult
"""

from s2sim.engine.result import ENGINES, HostWork, Mismatches, RunResult
from s2sim.engine.run import run_mapping

__all__ = ["run_mapping", "RunResult", "Mismatches", "HostWork", "ENGINES"]
