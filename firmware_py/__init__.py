"""firmware_py."""
