"""s2sim: a cycle-approximate simulator of the SpiNNaker2 chip (docs/python.md).

The names a user meets first, importable from the package (loaded on first use, so that
``import s2sim`` and the CLI stay fast):

    s2sim.load_network(name)       small | paper | paper:seed=N | gesture | checkpoint PATH
    s2sim.compile(network, ...)    s2sim.compiler.compile.compile_network -> Mapping
    s2sim.run(mapping, inputs, engine="functional" | "analytic" | "des")  -> RunResult
    s2sim.choose_tick(network, inputs, ...)  the practical tick -> (Mapping, TickChoice)
    s2sim.Mapping, s2sim.load_spec, s2sim.S2SimError
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_network": ("s2sim.compiler.ir", "resolve_network"),
    "compile": ("s2sim.compiler.compile", "compile_network"),
    "run": ("s2sim.engine.run", "run_mapping"),
    "choose_tick": ("s2sim.engine.tick", "choose_tick"),
    "Mapping": ("s2sim.compiler.mapping", "Mapping"),
    "load_spec": ("s2sim.spec", "load_spec"),
    "S2SimError": ("s2sim.errors", "S2SimError"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 's2sim' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    return getattr(importlib.import_module(module), attr)
