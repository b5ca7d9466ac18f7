"""s2sim/bench."""
