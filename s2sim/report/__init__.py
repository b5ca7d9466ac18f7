"""s2sim/report."""
