"""Exclusive locks on outputs: a lock file beside OUT, created atomically, holding pid and host."""

from __future__ import annotations

import atexit
import datetime as _dt
import json
import os
import socket
import time
import uuid
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from painctl.errors import PainctlError

HOST = socket.gethostname()
_held: dict[str, "OutputLock"] = {}


class OutputLock:
    """An exclusive lock on an output: the file ``.<name>.painctl-lock`` beside it.

    Created atomically (O_CREAT | O_EXCL) holding the holder's pid, host and start time. A lock
    whose holder is a dead process on this host is stale and taken over; a live holder, or one
    on another host (which cannot be checked), makes the lock refused with a PainctlError.
    """

    def __init__(self, out: Path):
        self.out = Path(os.path.abspath(out))
        self.path = self.lock_path(self.out)
        self.token = uuid.uuid4().hex
        self._acquire()
        _held[self.token] = self
        self._finalizer = weakref.finalize(self, _unlink_lock, str(self.path), self.token)

    @staticmethod
    def lock_path(out: Path) -> Path:
        """Return the lock file of output ``out``: ``.<name>.painctl-lock`` in the same directory."""
        out = Path(os.path.abspath(out))
        return out.parent / f".{out.name}.painctl-lock"

    @classmethod
    def check(cls, out: Path) -> None:
        """Raise PainctlError if a live run holds the lock of ``out`` (without taking it)."""
        path = cls.lock_path(out)
        holder = _read_lock(path) if path.exists() else None
        if holder is not None and not _holder_stale(holder):
            raise PainctlError(_locked_message(Path(out), path, holder))

    def _acquire(self) -> None:
        payload = json.dumps({"pid": os.getpid(), "host": HOST, "token": self.token,
                              "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = _read_lock(self.path)
                if holder is None:  # being written this very moment, or garbage
                    if _age_s(self.path) > 5:
                        self._take_over(None)
                    else:
                        _sleep(0.05)
                    continue
                if self._stale(holder):
                    self._take_over(holder)
                    continue
                raise PainctlError(_locked_message(self.out, self.path, holder))
            except OSError as exc:
                raise PainctlError(f"{self.path.parent}: cannot write the output here ({exc.strerror})") from None
            with os.fdopen(fd, "w") as fh:
                fh.write(payload)
            return
        raise PainctlError(f"{self.out}: could not take the lock {self.path}; remove it if no painctl run is writing there")

    def _stale(self, holder: Mapping[str, Any]) -> bool:
        return _holder_stale(holder)

    def _take_over(self, holder: Mapping[str, Any] | None) -> None:
        # Rename first: of several processes breaking the same stale lock only one succeeds.
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}-{self.token[:8]}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        moved = _read_lock(aside)
        if holder is not None and moved is not None and moved.get("token") != holder.get("token"):
            # Someone had just taken it over and locked afresh: put their lock back.
            try:
                os.link(aside, self.path)
            except OSError:
                pass
        stale = _held.pop(str((moved or {}).get("token")), None)
        if stale is not None:
            stale._finalizer.detach()
        os.unlink(aside)

    def release(self) -> None:
        """Remove the lock file if it is still this lock's."""
        _held.pop(self.token, None)
        self._finalizer()


def _holder_stale(holder: Mapping[str, Any]) -> bool:
    pid = holder.get("pid")
    if holder.get("host") != HOST or not isinstance(pid, int) or isinstance(pid, bool):
        return False  # another host's process cannot be checked from here
    if pid == os.getpid():
        # This process: stale unless one of our writers still holds it.
        return str(holder.get("token")) not in _held
    return not pid_alive(pid)


def _locked_message(out: Path, lock: Path, holder: Mapping[str, Any]) -> str:
    return (f"{out}: is being written by another painctl run (pid {holder.get('pid')} on {holder.get('host')}, "
            f"since {holder.get('started')}); wait for it, or remove {lock} if that run is gone")


def _unlink_lock(path: str, token: str) -> None:
    holder = _read_lock(Path(path))
    if holder is not None and holder.get("token") == token:
        try:
            os.unlink(path)
        except OSError:
            pass


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


@atexit.register
def _release_all_locks() -> None:
    for lock in list(_held.values()):
        lock.release()


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists on this host (also when it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
