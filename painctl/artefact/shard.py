"""`--shard K/N`: split the rows of a job into N contiguous, nearly equal parts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from painctl.errors import BadValue


@dataclass(frozen=True)
class Shard:
    """The K-th (1-based) of N parts."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def bounds(self, total: int) -> tuple[int, int]:
        """Return ``(start, stop)`` of this part of ``range(total)``; sizes differ by at most one."""
        k = self.index - 1
        return (total * k) // self.count, (total * (k + 1)) // self.count


WHOLE = Shard(1, 1)


def parse_shard(text: str | None) -> Shard:
    """Parse ``"K/N"`` (1 <= K <= N) into a Shard; ``None`` means the whole job."""
    if text is None:
        return WHOLE
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise BadValue("shard", f"must look like K/N (for example 3/8), got {text!r}")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 1 <= k <= n:
        raise BadValue("shard", f"{text}: K must be between 1 and N, and N at least 1")
    return Shard(k, n)
