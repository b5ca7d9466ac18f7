"""The compiler's pluggable stages (partitioners, placers): chosen by a registered name or passed
as a function; both stages resolve the choice here, so that an unknown name is refused alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from s2sim.errors import CompileError

F = TypeVar("F", bound=Callable)


def resolve_strategy(what: str, choice: str | F, registry: dict[str, F],
                     alternatives: str = " or pass a function") -> tuple[str, F]:
    """``(name, function)`` of ``choice``: a function as given (named after itself, else
    ``user``) or a name in ``registry``; an unknown name is a one-line CompileError listing the
    names (``alternatives``: what else may be passed, for the message)."""
    if callable(choice):
        return getattr(choice, "__name__", "user"), choice
    if choice not in registry:
        raise CompileError(f"{what} {choice!r} unknown: choose one of {', '.join(registry)}"
                           f"{alternatives}")
    return choice, registry[choice]
