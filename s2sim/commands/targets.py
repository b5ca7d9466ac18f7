"""`s2sim run MAPPING.json`: which of the compile options apply to a mapping that is already made.

A mapping fixes the partition, placement, PL, tick and PE budget, so the compile options that
choose them (``--pl``, ``--tick-s``, ``--max-pes``, ``--placer``, ``--pin``...) cannot apply; given
with a mapping they are refused with one line naming the option, never silently ignored.
``--spec`` and ``--set`` do apply: they replace the mapping's spec file / add to its recorded
overrides (e.g. ``--set noc.frequency_hz=1`` to run this mapping on a slower NoC), and the
mapping is then validated against that spec before any engine runs (so a ``--set`` that changes
the tick, the PL's frequency or the SRAM is refused with the mapping check's one-line error).
"""

from __future__ import annotations

import argparse

from s2sim.errors import S2SimError

APPLY_TO_MAPPING = ("spec", "set", "seed")  # --seed seeds --tokens' random ids


def compile_options_from(p: argparse.ArgumentParser, first_action: int) -> None:
    """Record (on ``p``'s defaults) the options added since ``p._actions[first_action]`` that a
    mapping target cannot take, with their defaults, for ``check_mapping_options``."""
    opts = [(a.dest, a.option_strings[0], a.default) for a in p._actions[first_action:]
            if a.option_strings and a.dest not in APPLY_TO_MAPPING]
    p.set_defaults(mapping_refuses=opts)


def apply_to_mapping(args: argparse.Namespace, mapping) -> None:
    """Refuse the compile options given with a mapping target; apply --spec/--set to it."""
    from s2sim.spec import parse_set_args

    for dest, flag, default in getattr(args, "mapping_refuses", []):
        if getattr(args, dest, default) != default:
            raise S2SimError(f"{flag}: does not apply to a compiled mapping ({args.target} fixes "
                             f"it); compile the model with {flag} instead")
    if getattr(args, "spec", None):
        mapping.spec_path = str(args.spec)
    overrides = parse_set_args(getattr(args, "set", None))
    if overrides:
        mapping.spec_overrides = {**mapping.spec_overrides, **overrides}
