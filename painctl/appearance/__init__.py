"""How a rendered person looks beyond the rigged head's shape: parts (hair, brows, lashes, eyes,
teeth, body), skin detail and scenes. Algorithms only: arrays in, arrays or renderer meshes out."""

from painctl.appearance.builtin import build_parts, parse_without, part_names
from painctl.appearance.parts import BUILDERS, Identity, Part, register

__all__ = ["BUILDERS", "Identity", "Part", "build_parts", "parse_without", "part_names", "register"]
