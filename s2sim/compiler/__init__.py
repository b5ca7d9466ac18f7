"""s2sim/compiler."""
