"""The tick stage (s2sim.compiler.tick): parsing and the auto tick's search."""

import math
from types import SimpleNamespace

import pytest

from s2sim.compiler.compile import compile_network
from s2sim.compiler.tick import compile_auto_tick, parse_tick
from s2sim.errors import CompileError


@pytest.mark.parametrize("value, want", [(None, None), ("auto", "auto"), (1e-3, 1e-3), (2, 2.0)])
def test_parse_tick_accepts(value, want):
    assert parse_tick(value) == want


@pytest.mark.parametrize("value, msg", [("fast", "seconds or 'auto'"), ("1e-3", "seconds"),
                                        (0, "must be > 0"), (-1e-3, "must be > 0"),
                                        (math.inf, "finite"), (math.nan, "finite")])
def test_parse_tick_refuses(value, msg):
    with pytest.raises(CompileError, match=msg):
        parse_tick(value)


NET = dict(sizes=(40, 30), n_in=20, density=0.3, seed=51)  # `net` (conftest)


def test_auto_tick_holds_the_work_and_the_schedule_in_whole_microseconds(net):
    m = compile_network(net, tick_period_s="auto")
    assert m.required_cycles_per_tick <= m.cycles_per_tick
    assert m.tick_period_ps % 1_000_000 == 0
    assert m.compile_s > 0
    # the same network at that tick compiles to the same mapping
    tick_s = m.tick_period_ps / 1e12
    assert compile_network(net, tick_period_s=tick_s).to_json() == m.to_json()


def test_estimate_is_a_fixed_point_not_the_shortest_tick(net):
    """The compiler's estimate starts from the partition made at the spec's tick and converges
    on a tick that holds that partition's work and schedule; a shorter tick may re-partition
    into smaller slices that hold too (the practical tick, s2sim.engine.tick, searches those)."""
    m = compile_network(net, tick_period_s="auto")
    assert m.required_cycles_per_tick <= m.cycles_per_tick
    shorter = compile_network(net, tick_period_s=m.tick_period_ps / 1e12 / 2,
                              check_schedule=False)
    assert len(shorter.pes_used()) >= len(m.pes_used())


class _Fake:
    """A compile_network stand-in: needs ``need`` cycles, compiles only from ``min_tick_s``."""

    frequency_hz = 1e8

    def __init__(self, need, min_tick_s=0.0, grows=0):
        self.need, self.min_tick_s, self.grows, self.calls = need, min_tick_s, grows, []

    def __call__(self, network, tick_period_s=None, **kw):
        self.calls.append((tick_period_s, kw.get("check_schedule", True)))
        tick = 1e-3 if tick_period_s is None else tick_period_s
        if tick < self.min_tick_s:
            raise CompileError(f"tick {tick} too short")
        need = self.need + self.grows * (len(self.calls) - 1)
        return SimpleNamespace(required_cycles_per_tick=need, frequency_hz=self.frequency_hz,
                               cycles_per_tick=int(tick * self.frequency_hz), compile_s=0.0)


def test_auto_tick_search_first_estimate_then_the_rounded_up_tick():
    fn = _Fake(need=1234)
    m = compile_auto_tick(fn, None, spec=SimpleNamespace())
    assert fn.calls[0] == (None, False)  # first: the spec's tick, no schedule check
    assert fn.calls[1] == (pytest.approx(13e-6), True)  # 1234 cycles at 100 MHz -> 13 us
    assert m.cycles_per_tick == 1300 and m.compile_s > 0


def test_auto_tick_doubles_from_the_spec_tick_when_it_is_too_short():
    spec = SimpleNamespace(timing=SimpleNamespace(tick_period_s=SimpleNamespace(value=1e-3)))
    fn = _Fake(need=500_000, min_tick_s=3e-3)
    m = compile_auto_tick(fn, None, spec=spec)
    assert [t for t, _ in fn.calls[:3]] == [None, 2e-3, 4e-3]
    assert m.required_cycles_per_tick <= m.cycles_per_tick


def test_auto_tick_gives_up_with_a_clear_error():
    fn = _Fake(need=1000, grows=10_000)  # every recompile needs more than the tick it got
    with pytest.raises(CompileError, match="tick_period_s='auto': no tick found"):
        compile_auto_tick(fn, None, spec=SimpleNamespace())


def test_auto_tick_converges_on_a_schedule_that_needs_much_more_than_the_first_estimate():
    """A dense decoder table on the chip: the send schedule ends ~1.4x past the first estimate
    (the small PTB model's tied table, not pruned), reached in 5 % steps."""
    from s2sim.commands.compile import load_network

    net = load_network("small")
    m = compile_network(net, decoder="chip", tick_period_s="auto")
    assert m.decoder_on_chip and m.required_cycles_per_tick <= m.cycles_per_tick
