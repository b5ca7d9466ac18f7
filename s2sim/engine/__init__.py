"""s2sim/engine."""
