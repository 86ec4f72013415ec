"""JSON Lines in and dead letters out, for files and standard input.

Lines are read with a bound: a line longer than the contract's message limit
(`events.inbound.MAX_EVENT_BYTES`, 64 KiB) is never held whole. It is read
on in chunks only to count and hash it, and comes out as an `Oversized`
stand-in: its first `PREFIX_BYTES`, its size and its SHA-256. Its dead
letter keeps just that (the prefix masked) (docs/reliability.md, "Dead letters of oversized
messages"), so a 50 MB line costs 64 KiB of memory, not 50 MB.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from adapters.privacy.masking import letter_digest, mask_payload
from events.inbound import MAX_EVENT_BYTES, InvalidEvent

PREFIX_BYTES = 1024
CHUNK = 1 << 20


@dataclass(frozen=True)
class Oversized:
    """A line over the limit: what is kept of it."""

    prefix: bytes
    size: int
    sha256: str

    @property
    def refusal(self) -> InvalidEvent:
        return InvalidEvent(f"event: message of {self.size} bytes exceeds the {MAX_EVENT_BYTES}-byte limit")

    @property
    def stand_in(self) -> bytes:
        """The same bytes for the line and for its dead letter, so reconcile can pair them."""
        return f"oversized:{self.size}:sha256:{self.sha256}".encode()


Line = bytes | Oversized


def read_lines(source: str, limit: int = MAX_EVENT_BYTES) -> Iterator[Line]:
    """Each non-blank line of a JSONL file (or '-' for stdin), without its newline; longer than `limit`: Oversized."""
    stream: IO[bytes] = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    try:
        while True:
            line = stream.readline(limit + 2)  # the line and its CR LF, or more than the limit
            if not line:
                return
            if len(line) == limit + 2 and not line.endswith(b"\n"):
                yield _rest_of(stream, line)
                continue
            stripped = line.rstrip(b"\r\n")
            if len(stripped) > limit:
                yield _rest_of(stream, line, ended=True)
            elif stripped.strip():
                yield stripped
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def whole_lines(lines: Iterable[Line], skipped: Counter[str]) -> Iterator[bytes]:
    """The lines within the limit; each oversized one is counted in `skipped["oversized"]`."""
    for line in lines:
        if isinstance(line, Oversized):
            skipped["oversized"] += 1
        else:
            yield line


def _rest_of(stream: IO[bytes], start: bytes, ended: bool = False) -> Oversized:
    """Count and hash the rest of an oversized line without keeping it (its line ending excluded, as for any line)."""
    digest = hashlib.sha256()
    size = 0
    held = b""  # trailing carriage returns: part of the line ending if a newline follows, else of the line
    chunk = start
    while True:
        data = held + chunk
        last = ended or data.endswith(b"\n")
        body = data.rstrip(b"\r\n") if last else data.rstrip(b"\r")
        held = b"" if last else data[len(body) :]
        digest.update(body)
        size += len(body)
        if last:
            break
        chunk = stream.readline(CHUNK)
        if not chunk:  # the end of the file ends the line: its trailing carriage returns go, as for any line
            break
    return Oversized(start[:PREFIX_BYTES], size, digest.hexdigest())


def dead_letter_record(
    raw: Line | str, reason: str, source: str, sealed: str | None = None, **extra: Any
) -> dict[str, Any]:
    """What a dead letter holds: why, where, the line with its personal data masked and the digest reconcile
    pairs it by (of an oversized line: a masked prefix, its size and SHA-256), and the event as the engine
    sealed it, if it could (`sealed`: an operator reveals it to replay it)."""
    record: dict[str, Any] = {"reason": reason, "source": source, **extra}
    if isinstance(raw, Oversized):
        record["payload_prefix_masked"] = mask_payload(raw.prefix).decode("utf-8")
        record["payload_bytes"] = raw.size
        record["payload_sha256"] = raw.sha256
        return record
    record["payload_masked"] = mask_payload(raw).decode("utf-8")
    record["payload_digest"] = letter_digest(raw)
    if sealed:
        record["payload_sealed"] = sealed
    return record


class DeadLetterFile:
    """Appends dead letters as JSON lines; the file is only created if one arrives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file: IO[bytes] | None = None

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115
        self._file.write(orjson.dumps(record) + b"\n")
        self.count += 1

    def __enter__(self) -> DeadLetterFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._file is not None:
            self._file.close()
