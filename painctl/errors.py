"""The one exception type that painctl turns into a one-line `painctl: error: ...` message."""


class PainctlError(Exception):
    """A failure the user can act on: bad input, missing file, refused overwrite.

    The CLI prints ``painctl: error: <message>`` and exits 1; library callers can catch it.
    """


class ArtefactError(PainctlError):
    """An artefact is missing, malformed, truncated, or of the wrong kind."""


class Terminated(KeyboardInterrupt):
    """Raised in the main process on SIGTERM, so it unwinds (and cleans up) as on Ctrl-C."""
