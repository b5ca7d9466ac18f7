"""s2sim: a cycle-approximate simulator of the SpiNNaker2 chip (docs/python.md).

The names a user meets first, importable from the package (loaded on first use, so that
``import s2sim`` and the CLI stay fast):

    s2sim.load_network(name)       small | paper | paper:seed=N | gesture | wt2 | checkpoint PATH
    s2sim.load_model(name)         the numpy language model (LMModel: vocab_size, embedding, ...)
    s2sim.model_ref(name)          what a name resolves to (ModelRef: kind, path of the checkpoint)
    s2sim.Network, s2sim.EGRULayer a network of EGRU layers built from arrays
    s2sim.compile(network, ...)    s2sim.compiler.compile.compile_network -> Mapping
    s2sim.run(mapping, inputs, engine="functional" | "analytic" | "des")  -> RunResult
    s2sim.choose_tick(network, inputs, ...)  the practical tick -> (Mapping, TickChoice)
    s2sim.build_report(result, mapping, ...) the report (the schema of every command's)
    s2sim.write_report, s2sim.load_report, s2sim.diff_reports, s2sim.assert_report_close
    s2sim.PlacementProblem         what a custom placer sees
    s2sim.Mapping, s2sim.load_spec, s2sim.S2SimError
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_network": ("s2sim.compiler.ir", "resolve_network"),
    "load_model": ("models.egru.checkpoint", "load_named"),
    "model_ref": ("models.egru.names", "resolve_model"),
    "Network": ("s2sim.compiler.ir", "Network"),
    "EGRULayer": ("models.egru.reference", "EGRULayer"),
    "compile": ("s2sim.compiler.compile", "compile_network"),
    "run": ("s2sim.engine.run", "run_mapping"),
    "choose_tick": ("s2sim.engine.tick", "choose_tick"),
    "build_report": ("s2sim.report.build", "report_of_run"),
    "write_report": ("s2sim.report.io", "write_report"),
    "load_report": ("s2sim.report.io", "load_report"),
    "diff_reports": ("s2sim.report.diff", "diff_reports"),
    "assert_report_close": ("s2sim.testing", "assert_report_close"),
    "PlacementProblem": ("s2sim.compiler.place", "PlacementProblem"),
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
