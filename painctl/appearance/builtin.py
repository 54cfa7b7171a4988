"""Imports every built-in part module so that each registers its builder (in draw order)."""
