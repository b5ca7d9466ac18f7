"""s2sim/baselines."""
