"""Signals while outputs are written: SIGTERM unwinds like Ctrl-C, workers stay quiet."""

from __future__ import annotations

import os
import signal

_handler_pid: int | None = None


def install_term_handler() -> None:
    """Make SIGTERM unwind like Ctrl-C in this process, so writers remove their temporaries.

    Forked worker processes that inherit the handler exit at once and quietly instead.
    """
    global _handler_pid
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current is _on_term and _handler_pid == os.getpid():
        return
    if current not in (signal.SIG_DFL, None, _on_term):
        return  # someone else (accelerate, a test runner) handles TERM
    _handler_pid = os.getpid()
    signal.signal(signal.SIGTERM, _on_term)


_deferred: list[int] | None = None


def _on_term(signum, frame) -> None:
    if os.getpid() != _handler_pid:
        os._exit(128 + signum)
    if _deferred is not None:
        _deferred.append(signum)
        return
    from painctl.errors import Terminated

    raise Terminated()


class deferred_signals:
    """Hold SIGTERM and SIGINT back for the length of a ``with`` block, then act on them.

    For steps that must not be cut in half, such as handing spawned worker processes their start-up
    data (a worker reading half of it prints a traceback).
    """

    def __enter__(self) -> "deferred_signals":
        global _deferred
        import threading

        self._active = threading.current_thread() is threading.main_thread() and _deferred is None
        if self._active:
            install_term_handler()
            _deferred = []
            self._int = signal.signal(signal.SIGINT, _on_deferred_int)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        global _deferred
        if not self._active:
            return
        pending, _deferred = _deferred or [], None
        signal.signal(signal.SIGINT, self._int)
        if exc_type is None and pending:
            from painctl.errors import Terminated

            raise Terminated() if signal.SIGTERM in pending else KeyboardInterrupt()


def _on_deferred_int(signum, frame) -> None:
    if _deferred is not None:
        _deferred.append(signum)
    else:
        raise KeyboardInterrupt()


def quiet_worker() -> None:
    """Call first in a worker process: exit silently on Ctrl-C/TERM and as soon as the parent is gone.

    Ctrl-C reaches every process of the terminal's group; the parent stops the workers itself.
    A worker whose parent was killed (kill -9) would otherwise die writing into a broken pipe,
    with a traceback.
    """
    import threading

    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(128 + signum))
    # A result sent to a parent that is gone ends the worker silently (SIGPIPE), not with a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(0.1)
        os._exit(1)

    threading.Thread(target=watch, name="painctl-parent-watch", daemon=True).start()
