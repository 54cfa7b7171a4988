"""Library errors name Python parameters (``lr_heads``, ``force=True``); a command shows its own flags.

:func:`flag_words` rewords a :class:`PainctlError` raised inside a command so it names the command's
flags: ``name=value`` becomes ``--flag value`` (``force=True`` becomes ``--force``), a parameter with an
underscore becomes its flag wherever it stands, a plain-word parameter (``init``) only where a clause
begins, and the command's extra phrases are replaced as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from painctl.errors import PainctlError


def reword(message: str, flags: Mapping[str, str], phrases: Mapping[str, str] | None = None) -> str:
    """``message`` with the parameters in ``flags`` (name -> flag or metavar) and ``phrases`` replaced."""
    for name, flag in flags.items():
        value = re.compile(rf"(?<![\w-]){re.escape(name)}=(?:True\b|'([^']*)'|\"([^\"]*)\"|([^\s;,)]+))")
        message = value.sub(lambda m: flag + "".join(f" {v}" for v in m.groups() if v is not None), message)
        where = rf"(?<![\w-]){re.escape(name)}(?![\w=-])" if "_" in name else rf"(^|; ){re.escape(name)}(?![\w=-])"
        message = re.sub(where, (lambda m: flag) if "_" in name else (lambda m: m.group(1) + flag), message)
    for text, replacement in (phrases or {}).items():
        message = message.replace(text, replacement)
    return message


@contextmanager
def flag_words(flags: Mapping[str, str], phrases: Mapping[str, str] | None = None) -> Iterator[None]:
    """Reword every PainctlError raised in the block with :func:`reword` (same type, same exit status)."""
    try:
        yield
    except PainctlError as exc:
        text = reword(str(exc), flags, phrases)
        if text == str(exc):
            raise
        try:
            replacement = type(exc)(text)
        except Exception:  # noqa: BLE001 - an error type with another constructor keeps its own words
            raise exc from None
        raise replacement from exc


__all__ = ["reword", "flag_words"]
