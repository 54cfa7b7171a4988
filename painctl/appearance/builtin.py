"""Imports every built-in part module so that each registers its builder (in draw order)."""
import painctl.appearance.mouth  # noqa: F401,E402  teeth, gums, dark mouth interior
import painctl.appearance.wrinkles  # noqa: F401,E402  AU-driven wrinkle maps baked into the head texture
