"""Imports every built-in part module so that each registers its builder (in draw order)."""
import painctl.appearance.body  # noqa: F401  (body: the bust's skin, garment: its clothes)
