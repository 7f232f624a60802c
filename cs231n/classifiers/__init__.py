"""Models built from the numpy layers."""
