"""The built-in parts, imported in draw order so that each registers its builder, and the functions
render-views uses to pick and build them."""

from __future__ import annotations

import painctl.appearance.body  # noqa: F401  (body: the bust's skin, garment: its clothes)
import painctl.appearance.hair  # noqa: F401  scalp hair
import painctl.appearance.brows  # noqa: F401  eyebrows
import painctl.appearance.eyelids  # noqa: F401  the upper lids lifted at rest (anny's rest low)
import painctl.appearance.lashes  # noqa: F401  eyelashes
import painctl.appearance.beard  # noqa: F401  beards and stubble
import painctl.appearance.mouth  # noqa: F401,E402  teeth, gums, dark mouth interior
import painctl.appearance.wrinkles  # noqa: F401,E402  AU-driven wrinkle maps baked into the head texture

from painctl.appearance.parts import BUILDERS, Identity, Part
from painctl.errors import BadValue


def part_names() -> list[str]:
    """Return the names of every registered part, in draw order."""
    return list(BUILDERS)


def parse_without(text: str | None) -> tuple[str, ...]:
    """Parse ``--without`` (comma-separated part names, or ``all``) into the part names to leave out."""
    if not text:
        return ()
    names = [s.strip() for s in str(text).split(",") if s.strip()]
    known = part_names()
    if names == ["all"]:
        return tuple(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BadValue("without", f": unknown part {unknown[0]!r}; parts are {', '.join(known) or '(none)'}")
    return tuple(n for n in known if n in names)


def build_parts(identity: Identity, without: tuple[str, ...] = ()) -> list[Part]:
    """Return the identity's parts, in draw order, leaving out the names in ``without``."""
    parts = []
    for name, builder in BUILDERS.items():
        if name in without:
            continue
        part = builder(identity)
        if part is not None:
            parts.append(part)
    return parts
