"""The step period a practitioner would choose: the shortest tick at which *these inputs* run
with no tick overrun, no dropped packet and no late traffic, plus a margin.

The compiler's own ``tick_period_s='auto'`` (``--tick-s estimate``) sizes the tick from
worst-case estimates (the assumed activity, 30 % cycle headroom, the send schedule's
pessimistic windows): safe, but on the shipped small model about 2.5x longer than needed, and
the chip's floor and sleep power are paid per tick. ``choose_tick`` instead bisects over whole
microseconds between a fraction of that estimate and the estimate, compiling at each candidate
(the partition adapts to the tick's cycle budget; the schedule check is left to the run) and
running the analytic engine on the given inputs; a candidate passes when the run has no tick
overrun, no estimated queue drop and no tick whose traffic outlasts it (``late_ticks_est``).
The shortest passing tick, lengthened by ``margin``, is then confirmed on the DES for the first
``confirm_steps`` steps (exact timing); where the DES still sees an overrun, a drop or a
mismatch, the tick grows by the margin again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from s2sim.compiler.compile import compile_network
from s2sim.engine.run import remember_analytic, run_mapping
from s2sim.errors import CompileError, S2SimError

__all__ = ["TickChoice", "choose_tick", "compile_with_tick", "sample_inputs", "describe",
           "DEFAULT_TICK_MARGIN", "DEFAULT_CONFIRM_STEPS"]

DEFAULT_TICK_MARGIN = 0.10  # the chosen tick is the shortest passing one x (1 + margin)
DEFAULT_CONFIRM_STEPS = 16  # DES confirmation: the first steps of the inputs
# Bisection starts this far below the estimate (the estimate is known to be pessimistic).
LOWEST_FRACTION = 0.125
# Growth when the estimate itself, or the chosen tick on the DES, does not pass.
GROWTH = 1.25
MAX_GROWTH_STEPS = 8
# The bisection runs on the first steps only (a whole test split would be priced once per
# candidate); the chosen tick is then checked on all of them, once.
SEARCH_STEPS = 4096


@dataclass
class TickChoice:
    """How the tick was chosen (for the report)."""

    method: str  # "auto" (bisection on the run) | "estimate" | "given" | "spec"
    tick_s: float
    margin: float
    shortest_passing_s: float | None = None
    estimate_s: float | None = None
    candidates_tried: int = 0
    confirmed_on_des_steps: int = 0
    searched_on_steps: int = 0  # the bisection's inputs (the first steps of the run)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _passes(m, inputs, oracle, observe=None) -> bool:
    if oracle is None:  # a whole long run: the command's own run may be this one
        r = run_mapping(m, inputs, engine="analytic", compare=False, observe=observe)
        remember_analytic(m, inputs, r, observe)
    else:
        r = run_mapping(m, inputs, engine="analytic", compare=False, oracle=oracle)
    return (r.tick_overruns == 0 and r.dropped_packets == 0
            and int(r.meta.get("late_ticks_est", 0)) == 0)


def _compile_at(network, us: int, kw: dict):
    try:
        return compile_network(network, tick_period_s=us * 1e-6,
                               **{**kw, "check_schedule": False})
    except CompileError:
        return None  # no partition fits this tick's cycle budget


def _des_ok(m, inputs, steps: int) -> bool:
    r = run_mapping(m, inputs[:steps], engine="des")
    return (r.tick_overruns == 0 and r.dropped_packets == 0 and r.mismatches.total == 0
            and int(r.meta.get("undelivered", 0)) == 0)


def choose_tick(network, inputs, *, margin: float = DEFAULT_TICK_MARGIN,
                confirm_steps: int = DEFAULT_CONFIRM_STEPS, observe=None, **compile_kw):
    """(mapping, TickChoice): the mapping compiled at the practical tick for ``inputs``.
    ``observe``: ``run_mapping``'s, for the check of the chosen tick on all of a long run's
    inputs (the command's own analytic run then reuses that pass)."""
    if not (math.isfinite(margin) and 0 <= margin <= 10):
        raise S2SimError(f"--tick-margin {margin}: must be between 0 and 10")
    est = compile_network(network, tick_period_s="auto", **compile_kw)
    search = inputs[:SEARCH_STEPS]
    oracle = _oracle(est, network, search)
    hi = int(round(est.tick_period_ps / 1e6))
    tried = 1
    hi_m = _compile_at(network, hi, compile_kw)
    for _ in range(MAX_GROWTH_STEPS):
        if hi_m is not None and _passes(hi_m, search, oracle):
            break
        hi = int(math.ceil(hi * GROWTH))
        hi_m = _compile_at(network, hi, compile_kw)
        tried += 1
    else:
        raise S2SimError(f"--tick-s auto: no tick up to {hi} us runs these inputs without "
                         "overruns or drops")
    lo = max(1, int(hi * LOWEST_FRACTION))  # assumed failing (checked below)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        m = _compile_at(network, mid, compile_kw)
        tried += 1
        if m is not None and _passes(m, search, oracle):
            hi = mid
        else:
            lo = mid
    whole = oracle if len(search) == len(inputs) else None  # a long run: checked window-wise
    return _with_margin(network, inputs, whole, hi, est, margin, confirm_steps, tried,
                        compile_kw, observe)


def _oracle(mapping, network, inputs):
    """The reference trace of the inputs, computed once for every candidate's run."""
    from s2sim.engine.common import prepare_run

    return prepare_run(mapping, inputs, network=network).oracle()


def _with_margin(network, inputs, oracle, shortest_us: int, est, margin: float, confirm_steps: int,
                 tried: int, kw: dict, observe=None):
    us = int(math.ceil(shortest_us * (1 + margin)))
    steps = int(min(confirm_steps, np.shape(inputs)[0]))
    for _ in range(MAX_GROWTH_STEPS):
        m = _compile_at(network, us, kw)
        tried += 1
        ok = m is not None and _passes(m, inputs, oracle, observe)
        if ok and (steps == 0 or _des_ok(m, inputs, steps)):
            choice = TickChoice(method="auto", tick_s=us * 1e-6, margin=margin,
                                shortest_passing_s=shortest_us * 1e-6,
                                estimate_s=est.tick_period_ps / 1e12, candidates_tried=tried,
                                confirmed_on_des_steps=steps,
                                searched_on_steps=int(min(SEARCH_STEPS, np.shape(inputs)[0])))
            m.options["tick_choice"] = "auto"
            m.options["tick_margin"] = margin
            return m, choice
        us = int(math.ceil(us * (1 + max(margin, 0.05))))
    raise S2SimError(f"--tick-s auto: the DES does not confirm any tick up to {us} us")


# -- the tick a command asks for ------------------------------------------------------------------

AUTO, ESTIMATE, SPEC = "auto", "estimate", "spec"
DEFAULT_AUTO_INPUTS = 64  # steps of seeded random inputs when a command has no inputs (compile)


def sample_inputs(network, n: int = DEFAULT_AUTO_INPUTS, seed: int = 0) -> np.ndarray:
    """Seeded stand-in inputs: token ids for a network with an embedding, else N(0, 1) vectors."""
    rng = np.random.default_rng(seed)
    if network.input.embedding is not None:
        return rng.integers(0, network.input.embedding.shape[0], n)
    return rng.standard_normal((n, network.input.n_out)).astype(np.float32)


def compile_with_tick(network, tick, inputs=None, *, margin: float = DEFAULT_TICK_MARGIN,
                      confirm_steps: int = DEFAULT_CONFIRM_STEPS, observe=None, **compile_kw):
    """(mapping, TickChoice) at the tick ``--tick-s`` asks for: ``auto`` (``choose_tick`` on the
    inputs, seeded stand-ins when none are given; ``observe`` as there), ``estimate`` (the
    compiler's estimate), ``spec``/None (the spec's tick) or seconds."""
    if tick == AUTO:
        if inputs is None:
            inputs = sample_inputs(network, seed=int(compile_kw.get("seed", 0)))
        return choose_tick(network, inputs, margin=margin, confirm_steps=confirm_steps,
                           observe=observe, **compile_kw)
    if tick == ESTIMATE:
        m = compile_network(network, tick_period_s="auto", **compile_kw)
        method = ESTIMATE
    elif tick in (SPEC, None):
        m = compile_network(network, **compile_kw)
        method = SPEC
    else:
        m = compile_network(network, tick_period_s=float(tick), **compile_kw)
        method = "given"
    m.options["tick_choice"] = method
    return m, TickChoice(method=method, tick_s=m.tick_period_ps / 1e12, margin=0.0)


def describe(choice: TickChoice, mapping) -> str:
    """One line for the report's notes: how the tick was chosen and the margin it has."""
    us = choice.tick_s * 1e6
    if choice.method == AUTO:
        return (f"tick period {us:g} us chosen by --tick-s auto: the shortest tick at which the "
                f"run's inputs have no overrun, drop or late traffic is "
                f"{choice.shortest_passing_s * 1e6:g} us (analytic engine on the first "
                f"{choice.searched_on_steps} steps, {choice.candidates_tried} candidates, the "
                f"chosen tick checked on all; DES-confirmed on the first "
                f"{choice.confirmed_on_des_steps} steps), plus a margin of "
                f"{100 * choice.margin:g} % (--tick-margin); the compiler's worst-case estimate "
                f"was {choice.estimate_s * 1e6:g} us (--tick-s estimate)")
    if choice.method == ESTIMATE:
        return (f"tick period {us:g} us chosen by --tick-s estimate: the mapping needs "
                f"~{mapping.required_cycles_per_tick} cycles per step at "
                f"{mapping.frequency_hz / 1e6:g} MHz (estimated work + headroom, send schedule "
                f"at the assumed activity)")
    return f"tick period {us:g} us ({'the spec' if choice.method == SPEC else 'given'})"
