"""The one exception type that painctl turns into a one-line `painctl: error: ...` message.

Library code names parameters as the Python API spells them (``per_identity``); the CLI's error
handler rewrites each to the flag of the command that ran (``--per-identity``), so neither layer
needs a table of the other's names.
"""

from __future__ import annotations

from collections.abc import Callable


class PainctlError(Exception):
    """A failure the user can act on: bad input, missing file, refused overwrite.

    The CLI prints ``painctl: error: <message>`` and exits with ``exit_code`` (1: the work
    failed; 2 for :class:`BadValue`, a usage error); library callers can catch it.

    ``params`` names the parameters the message mentions; ``{name}`` marks where each is named
    (``PainctlError("{prior} x.csv: cannot read it", params=("prior",))``). ``str()`` spells them
    as the API does (``prior``), :meth:`render` another way (the CLI: ``--prior``).
    """

    exit_code = 1

    def __init__(self, message: str = "", *, params: tuple[str, ...] = ()):
        self.params = tuple(params)
        self.template = str(message)
        super().__init__(self.render(str))

    def render(self, name: Callable[[str], str]) -> str:
        """The message with each parameter spelled ``name(param)`` (``str``: as the API names it)."""
        text = self.template
        for param in self.params:
            # str.replace, not str.format: a quoted user value may hold braces of its own.
            text = text.replace(f"{{{param}}}", name(param))
        return text

    def __str__(self) -> str:
        return self.render(str)


class ArtefactError(PainctlError):
    """An artefact is missing, malformed, truncated, or of the wrong kind."""


class UpstreamFailed(ArtefactError):
    """Nothing came on stdin: the stage before this one in a pipe failed (and has said why)."""


class Terminated(KeyboardInterrupt):
    """Raised in the main process on SIGTERM, so it unwinds (and cleans up) as on Ctrl-C."""


class BadValue(PainctlError):
    """A parameter has a value outside what it accepts: a usage error (exit status 2).

    ::

        BadValue("per_identity", "must be at least 1, got 0")
        # str(): "per_identity must be at least 1, got 0"; `painctl rig` prints "--per-identity must be ..."
        BadValue("views", ": yaw 95 is outside -90..90 degrees")      # "views: yaw 95 ..."
        BadValue(("pspi", "au"), "give exactly one of {pspi} (levels) or {au} (intensities)")

    With one parameter the message follows its name (a space between, unless the message starts
    with ':' or ','); with several (a tuple) ``{name}`` marks where each is named. A single
    argument is a plain message that names no parameter. ``detail`` is the message without the
    parameter's name (for click, which names the option itself).
    """

    exit_code = 2

    def __init__(self, param: str | tuple[str, ...], message: str | None = None):
        if message is None:
            self.detail = str(param)
            super().__init__(str(param))
        elif isinstance(param, str):
            self.detail = message.lstrip(":, ")
            joint = "" if message.startswith((":", ",")) else " "
            super().__init__(f"{{{param}}}{joint}{message}", params=(param,))
        else:
            self.detail = message
            super().__init__(message, params=tuple(param))
