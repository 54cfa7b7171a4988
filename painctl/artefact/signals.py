"""Signals while outputs are written: SIGTERM unwinds like Ctrl-C, workers stay quiet."""

from __future__ import annotations

import os
import signal
import sys

from painctl.errors import PainctlError

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


def quiet_map(context, processes: int, initializer, initargs: tuple, fn, items: list, what: str):
    """Yield ``fn(item)`` for each of ``items``, in order, computed over ``processes`` worker processes
    of ``context`` (spawn) that are quiet from their first line; ``what`` names them in errors.

    A spawned worker reads its start-up data from the parent over a pipe before any of painctl's
    code runs in it; a parent killed with SIGKILL in the middle of that made it print an EOFError
    or UnpicklingError traceback. Here each worker's command line runs :func:`spawn_main_quietly`
    first, which sets :func:`quiet_worker`'s handlers before the data is read. TERM and INT are
    held back while the workers are handed their data (see :class:`deferred_signals`).

    A worker that dies abruptly (SIGKILL from the out-of-memory killer, a crash in a driver) ends
    the run with a :class:`~painctl.errors.PainctlError` naming it; a ``multiprocessing.Pool``
    replaced it silently and waited forever for the result it took with it. On that error, Ctrl-C,
    TERM, or the generator closed early, the workers are stopped at once, not after their tasks.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    before = set(multiprocessing.active_children())
    _start_resource_tracker()  # before the executor's queues register their semaphores with it
    executor = ProcessPoolExecutor(processes, mp_context=context, initializer=initializer, initargs=initargs)
    workers: list = []
    finished = False
    try:
        # With a start method other than fork, the executor spawns its workers only in submit(),
        # one per call until it has `processes`, and never replaces one that died: submitting every
        # item here spawns every worker inside the quiet command line and the held-back signals.
        with _quiet_command_line(), deferred_signals():
            futures = [executor.submit(fn, item) for item in items]
        workers = [p for p in multiprocessing.active_children() if p not in before]
        for future in futures:
            try:
                result = future.result()
            except BrokenProcessPool:
                raise PainctlError(f"{_death(what, workers)}; nothing was written") from None
            yield result
        finished = True
    finally:
        if not finished:
            # shutdown() would wait for the tasks the workers are busy with; stop them now.
            for process in set(workers) | {p for p in multiprocessing.active_children() if p not in before}:
                process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)


class _quiet_command_line:
    """For a ``with`` block, make every spawned process's command line start with :func:`spawn_main_quietly`."""

    def __enter__(self) -> "_quiet_command_line":
        import multiprocessing.spawn as spawn

        parent, self._original = os.getpid(), spawn.get_command_line
        original = self._original

        def command_line(**kwds):
            line = original(**kwds)
            if "-c" in line:  # [python, *flags, -c, PROG, --multiprocessing-fork] (not a frozen executable)
                at = line.index("-c") + 1
                args = ", ".join(f"{key}={value!r}" for key, value in kwds.items())
                line[at] = f"from painctl.artefact.signals import spawn_main_quietly; spawn_main_quietly({parent}, {args})"
            return line

        spawn.get_command_line = command_line
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        import multiprocessing.spawn as spawn

        spawn.get_command_line = self._original


def _death(what: str, workers: list) -> str:
    """Say which of ``workers`` (``multiprocessing`` processes) died, and how."""
    import time

    # The executor stops the other workers (TERM: quiet_worker exits 128 + 15) as it fails the
    # tasks; the one that died first is the one with another exit status. Wait for every worker's
    # status, not the first one known: the executor's thread may be reaping the dead worker right
    # now, and until it has, that worker reads as running (a stopped sibling was named instead).
    deadline = time.monotonic() + 2.0
    while not all(p.exitcode is not None for p in workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    dead = [p for p in workers if p.exitcode is not None]
    dead.sort(key=lambda p: (p.exitcode in (128 + signal.SIGTERM, -signal.SIGTERM), p.exitcode >= 0))
    if not dead:
        return f"a {what} worker died"
    worker, code = dead[0], dead[0].exitcode
    if code < 0:
        how = f"killed by signal {-code}" + ("; out of memory?" if -code == signal.SIGKILL else "")
    else:
        how = f"exit status {code}"
    return f"{what} worker {worker.pid} died ({how})"


def _start_resource_tracker() -> None:
    # After a SIGKILL of this process the tracker removes the semaphores its pool made (none is
    # left in /dev/shm); its warning that it had to is about our death, which the user caused.
    from multiprocessing import resource_tracker

    option = "ignore:resource_tracker:UserWarning"
    sys.warnoptions.append(option)
    try:
        resource_tracker.ensure_running()
    finally:
        sys.warnoptions.remove(option)


def spawn_main_quietly(parent: int, **kwds) -> None:
    """A spawned worker's first call: :func:`quiet_worker` for ``parent``, then multiprocessing's own start."""
    quiet_worker(parent)
    from multiprocessing.spawn import spawn_main

    spawn_main(**kwds)


_quiet = False


def quiet_worker(parent: int | None = None) -> None:
    """Call first in a worker process: exit silently on Ctrl-C/TERM and as soon as the parent is gone.

    Ctrl-C reaches every process of the terminal's group; the parent stops the workers itself.
    A worker whose parent was killed (kill -9) would otherwise die reading a cut start-up message
    or writing into a broken pipe, with a traceback. ``parent`` is the parent's pid (default: the
    current parent); a worker that starts after it died exits at once.
    """
    global _quiet
    import threading

    if _quiet:
        return
    _quiet = True
    parent = os.getppid() if parent is None else parent
    if os.getppid() != parent:
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(128 + signum))
    # A result sent to a parent that is gone ends the worker silently (SIGPIPE), not with a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    previous = sys.excepthook

    def excepthook(kind, value, tb) -> None:
        # An error escaping the worker's start (EOF on its start-up pipe) because the parent died
        # is no news; any other is printed as usual.
        if _parent_gone(parent, wait_s=2.0):
            os._exit(1)
        previous(kind, value, tb)

    sys.excepthook = excepthook

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(0.1)
        os._exit(1)

    threading.Thread(target=watch, name="painctl-parent-watch", daemon=True).start()


def _parent_gone(parent: int, wait_s: float) -> bool:
    # The start-up pipe reads EOF as the dying parent closes its files, a moment before this
    # process is handed to a new parent: wait a little for that.
    import time

    deadline = time.monotonic() + wait_s
    while os.getppid() == parent:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
