"""Imports every built-in part module so that each registers its builder (in draw order)."""
import painctl.appearance.hair  # noqa: F401  scalp hair
import painctl.appearance.brows  # noqa: F401  eyebrows
import painctl.appearance.lashes  # noqa: F401  eyelashes
import painctl.appearance.beard  # noqa: F401  beards and stubble
