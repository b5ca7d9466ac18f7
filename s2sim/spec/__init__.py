"""s2sim/spec."""
