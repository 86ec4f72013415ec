"""Cutting a poll's records into the worker's transactions: parsed once, within limits, a DayClosed alone."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from events.inbound import DayClosed, InvalidEvent, ParsedEvent, parse_or_refusal

Record = tuple[Any, ParsedEvent | InvalidEvent]  # a consumer record and its value parsed against the contract
Part = tuple[Any, list[Record]]  # (TopicPartition, its records in offset order) within one transaction


@dataclass(frozen=True)
class Limits:
    records: int
    value_bytes: int


def parse(value: bytes | None) -> ParsedEvent | InvalidEvent:
    """A record's value parsed once, on its way in; the engine, the router and the dead letters use the result."""
    return parse_or_refusal(value or b"")


def is_day_closed(parsed: ParsedEvent | InvalidEvent) -> bool:
    return isinstance(parsed, ParsedEvent) and isinstance(parsed.event, DayClosed)


def chunks(records: Sequence[Record], limits: Limits) -> Iterator[list[Record]]:
    """A partition's records in runs within the limits."""
    chunk: list[Record] = []
    size = 0
    for record, parsed in records:
        length = len(record.value or b"")
        if chunk and (len(chunk) >= limits.records or size + length > limits.value_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append((record, parsed))
        size += length
    if chunk:
        yield chunk


def transactions(parts: Sequence[Part], limits: Limits) -> Iterator[list[Part]]:
    """Group the poll's chunks into transactions: one commit for several partitions while within the limits.

    At a low load a poll holds a few records of every partition: one transaction per partition would
    pay a commit for each. A chunk holding a DayClosed copy goes alone, so that the day reaches exactly
    its own partition's accounts (`day_scope`), at its place in that partition.
    """
    group: list[Part] = []
    count = size = 0
    for tp, chunk in parts:
        length, nbytes = len(chunk), sum(len(r.value or b"") for r, _ in chunk)
        alone = any(is_day_closed(parsed) for _, parsed in chunk)
        if group and (alone or count + length > limits.records or size + nbytes > limits.value_bytes):
            yield group
            group, count, size = [], 0, 0
        group.append((tp, chunk))
        count, size = count + length, size + nbytes
        if alone:
            yield group
            group, count, size = [], 0, 0
    if group:
        yield group
