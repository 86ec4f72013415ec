"""Measuring inside a row's child process: elapsed time per event and resident memory.

Peak RSS is the kernel's high-water mark of the child (VmHWM), so each row's
figure is its own: rows run in fresh processes.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_mib(key: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB."""
    peak = _status_mib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    current = _status_mib("VmRSS")
    return current if current is not None else peak_rss_mib()


@dataclass
class Meter:
    """Progress of one row: (events done, seconds) after each batch, and RSS samples."""

    total: int
    samples: int = 10
    label: str = ""
    started: float = field(default_factory=time.perf_counter)
    cpu_started: float = field(default_factory=time.process_time)  # this process's CPU: steadier than wall time
    marks: list[tuple[int, float]] = field(default_factory=list)
    rss: list[tuple[int, float]] = field(default_factory=list)

    def mark(self, done: int) -> None:
        self.marks.append((done, time.perf_counter() - self.started))
        step = max(1, self.total // self.samples)
        if not self.rss or done // step > self.rss[-1][0] // step:
            self.rss.append((done, round(current_rss_mib(), 1)))
            if self.label:
                seconds = self.marks[-1][1]
                rate = done / seconds if seconds else 0.0
                print(
                    f"  {self.label}: {done:,} events, {rate:,.0f}/s, RSS {self.rss[-1][1]:,.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )

    @property
    def seconds(self) -> float:
        return self.marks[-1][1] if self.marks else time.perf_counter() - self.started


def percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of an ascending list (share 0.99: the value 99% of the list is at or below)."""
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return ordered[index]
