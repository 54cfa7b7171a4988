"""The one exception type that painctl turns into a one-line `painctl: error: ...` message."""


class PainctlError(Exception):
    """A failure the user can act on: bad input, missing file, refused overwrite.

    The CLI prints ``painctl: error: <message>`` and exits with ``exit_code`` (1: the work
    failed; 2 for :class:`BadValue`, a usage error); library callers can catch it.
    """

    exit_code = 1


class ArtefactError(PainctlError):
    """An artefact is missing, malformed, truncated, or of the wrong kind."""


class UpstreamFailed(ArtefactError):
    """Nothing came on stdin: the stage before this one in a pipe failed (and has said why)."""


class Terminated(KeyboardInterrupt):
    """Raised in the main process on SIGTERM, so it unwinds (and cleans up) as on Ctrl-C."""


class BadValue(PainctlError):
    """An option or argument has a value outside what it accepts: a usage error (exit status 2)."""

    exit_code = 2
