"""s2sim."""
