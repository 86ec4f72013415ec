"""Progress of a long replay on stderr: accounts done, facts replayed and facts per second.

Plain lines, at most one every `every_s` seconds and one at the end, so a
terminal and a log file read the same.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ReplayProgress:
    def __init__(self, what: str, stream: TextIO | None = None, every_s: float = 2.0) -> None:
        self.what = what
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.started = time.perf_counter()
        self.shown = self.started
        self.facts = 0

    def __call__(self, done: int, total: int, facts: int) -> None:
        self.facts = facts
        now = time.perf_counter()
        if done < total and now - self.shown < self.every_s:
            return
        self.shown = now
        elapsed = max(now - self.started, 1e-9)
        self.stream.write(
            f"{self.what}: {done}/{total} accounts, {facts} facts in {elapsed:.1f}s ({facts / elapsed:,.0f} facts/s)\n"
        )
        self.stream.flush()
