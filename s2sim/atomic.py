"""Atomic file writes for s2sim: the project's one writer, whose home is models.egru.atomic.

It lives there because models/egru depends on nothing of s2sim (dependencies point one way),
and s2sim may depend on models/egru; this module is the name s2sim code imports it by.
"""

from models.egru.atomic import write_bytes_atomic, write_text_atomic

__all__ = ["write_bytes_atomic", "write_text_atomic"]
