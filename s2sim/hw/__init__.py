"""s2sim/hw."""
