"""Errors of the models package: one-line messages, subclasses of ``S2SimError``."""

from s2sim.errors import CheckpointError, DataError, S2SimError

__all__ = ["CheckpointError", "DataError", "ModelError"]


class ModelError(S2SimError, ValueError):
    """A model is built from parameters of the wrong shape, dtype or size (names the parameter)."""
