"""CLI sub-commands, one module each (see s2sim/cli.py)."""
