"""Errors that reach users as one line.

Every module raises a subclass of ``S2SimError`` with a message that names the file, field, core
or constraint at fault; the CLI prints ``str(exc)`` and exits 2.
"""


class S2SimError(Exception):
    """Base class of all user-facing errors."""


class SpecError(S2SimError):
    """The chip spec is malformed or nonsensical (names the field)."""


class ResourceError(S2SimError):
    """A hardware limit is exceeded: SRAM, routing table, PE count (names PE/region/bytes)."""


class RoutingError(S2SimError):
    """A packet key matches no routing entry, or the routing table overflows."""


class CheckpointError(S2SimError):
    """A model checkpoint is missing, corrupted or of the wrong version (names the file)."""


class DataError(S2SimError):
    """A data file is missing, altered or malformed (names the file and where it was looked)."""


class CompileError(S2SimError):
    """A network cannot be mapped onto the chip (names the layer, slice and constraint)."""


class ReportError(S2SimError):
    """A report file is corrupted or of the wrong version (names the file)."""
