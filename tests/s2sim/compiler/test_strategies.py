import pytest

from s2sim.compiler.strategies import resolve_strategy
from s2sim.errors import CompileError


def _mine(x):
    return x


def test_name_or_function():
    assert resolve_strategy("placer", "a", {"a": _mine}) == ("a", _mine)
    assert resolve_strategy("placer", _mine, {}) == ("_mine", _mine)


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(CompileError, match=r"^placer 'b' unknown: choose one of a, c or pass"):
        resolve_strategy("placer", "b", {"a": _mine, "c": _mine})
