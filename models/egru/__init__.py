"""models/egru."""
