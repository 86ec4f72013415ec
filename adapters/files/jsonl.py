"""JSON Lines in and dead letters out, for files and standard input."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson


def read_lines(source: str) -> Iterator[bytes]:
    """Each non-blank line of a JSONL file (or '-' for stdin), without its newline."""
    stream: IO[bytes] = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    try:
        for line in stream:
            stripped = line.rstrip(b"\r\n")
            if stripped.strip():
                yield stripped
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def dead_letter_record(raw: bytes | str, reason: str, source: str, **extra: Any) -> dict[str, Any]:
    """What a dead letter holds: the original bytes, why it was refused, where from."""
    record: dict[str, Any] = {"reason": reason, "source": source, **extra}
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        record["payload"] = data.decode("utf-8")
    except UnicodeDecodeError:
        record["payload_base64"] = base64.b64encode(data).decode("ascii")
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
