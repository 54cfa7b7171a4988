"""Estimates before work: refuse what will not fit on the disk or in memory, with the figures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NamedTuple

from painctl.errors import PainctlError


#: The option that lets a user run work whose estimate does not fit.
#: The parameter that overrides the check: ``big_ok=True`` in Python, ``--i-know-it-is-big`` on the command line.
BIG_OK = "big_ok=True"

#: Bytes a PNG takes per byte of raw pixels, measured on 2026-12-01: 0.09-0.34 for renders without
#: camera noise, textures, maps and heatmaps (make demo's artefacts, and 96-256 px runs), with headroom.
PNG_RATIO = 0.35
#: The same for render-views images through the photo camera model, whose sensor noise PNG cannot
#: squeeze: 0.56 at 224 px, 0.67 at 96 px.
NOISY_PNG_RATIO = 0.7
#: The same for image-sized gzip/lzf HDF5 datasets (depth maps, heatmaps): 0.12-0.3 measured.
H5_IMAGE_RATIO = 0.3


class Estimate(NamedTuple):
    """What a run needs, estimated before it starts: bytes written to disk, peak bytes of memory."""

    disk_bytes: int
    memory_bytes: int = 0


def png_bytes(pixels: int, channels: int = 3, ratio: float = PNG_RATIO) -> int:
    """Estimated size (bytes) of a PNG of ``pixels`` pixels with ``channels`` 8-bit channels."""
    return int(pixels * channels * ratio)


def check_resources(near: str | os.PathLike, disk_bytes: int = 0, memory_bytes: int = 0, what: str = "this run",
                    override: bool = False, device: str = "cpu") -> None:
    """Refuse work whose estimated need does not fit, before any of it is done.

    ``disk_bytes`` is compared with the free space of the filesystem holding ``near`` (or its
    nearest existing parent), ``memory_bytes`` with the memory available now (the GPU's free
    memory for ``device="cuda"``). Raises PainctlError naming every shortfall, memory first, with its
    figures, unless ``override``.
    """
    if override:
        return
    hint = "; pass {" + BIG_OK + "} to try anyway"
    shortfalls = []
    # Memory first: a run that cannot fit in memory is refused for that whatever the disk holds, and
    # every shortfall is named in the one line, so a rerun does not meet a second refusal.
    if memory_bytes > 0:
        available, where = available_memory(device)
        if available is not None and memory_bytes > available:
            shortfalls.append(f"about {_human(memory_bytes)} of memory, but {where} has {_human(available)} available")
    if disk_bytes > 0:
        place = Path(os.path.abspath(near))
        while not place.exists() and place != place.parent:
            place = place.parent
        free = shutil.disk_usage(place).free
        if disk_bytes > free:
            shortfalls.append(f"about {_human(disk_bytes)} on disk, but {place} has {_human(free)} free")
    if shortfalls:
        raise PainctlError(f"{what} needs " + ", and ".join(shortfalls) + hint, params=(BIG_OK,))


def available_memory(device: str = "cpu") -> tuple[int | None, str]:
    """Return (bytes available now, a name for it): MemAvailable of /proc/meminfo, or the GPU's free memory."""
    if device == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info()
        return int(free), "the GPU"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024, "this machine"
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "this machine"
    except (ValueError, OSError):
        return None, "this machine"


def _human(nbytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} TB"


def default_jobs(worker_bytes: int = 0) -> int:
    """Return the number of CPU cores this process may use, or, given the resident bytes a worker
    process needs, at most as many workers as the memory available now holds (at least 1)."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        cores = max(1, os.cpu_count() or 1)
    if worker_bytes > 0:
        available, _ = available_memory()
        if available is not None:
            return max(1, min(cores, available // worker_bytes))
    return cores
