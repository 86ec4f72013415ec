"""The shared vocabulary of the read models: tables, recorded events, the row store.

A projection is pure logic: it sees one recorded event at a time and changes
rows through `Tables`, never SQL. The adapter that runs it decides where rows
live (SQLite or PostgreSQL, in one transaction with the projection's
position) and `tests.support.memory_tables` keeps them in dictionaries for tests, so
the same code gives the same rows wherever it runs.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol

from events.inbound import DayClosed
from events.operator import Fact
from events.recorded import Balances, RecordedDecision

Row = dict[str, Any]
Key = tuple[Any, ...]
CENT = Decimal("0.01")
STORED_PREFIX = "rm_"
"""Every projection table is stored as `rm_<name>`, beside the event store, so analysts' SQL is the same everywhere."""
POSITIONS_TABLE = f"{STORED_PREFIX}positions"


class ColumnType(StrEnum):
    """Logical column types; adapters map them to each database's own types."""

    TEXT = "text"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    MONEY = "money"  # exact Decimal with two fraction digits
    TIMESTAMP = "timestamp"  # timezone-aware, stored in UTC
    DATE = "date"
    JSON = "json"
    RATIO = "ratio"  # a float share such as a roll rate


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    doc: str
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """A read-model table: its columns (each documented), key and indexes."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    internal: bool = False  # working state of a projection, not meant for analysts
    append_only: bool = False  # each key is put once and never read back (a log of entries): a rebuild streams them

    def key_of(self, row: Row) -> Key:
        return self._key_getter(row)

    @cached_property
    def _key_getter(self) -> Callable[[Row], Key]:
        """The key as a tuple, picked in C: rows are keyed for every change a projection makes."""
        if len(self.key) == 1:
            (name,) = self.key
            return lambda row: (row[name],)
        return operator.itemgetter(*self.key)

    @property
    def stored_name(self) -> str:
        return STORED_PREFIX + self.name

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


class Tables(Protocol):
    """Row access a projection gets: by key, plus a full scan for small working tables.

    A row from `get` is the projection's to change, and a changed row is always
    put back; a row handed to `put` is not changed afterwards. So an
    implementation may hand out and keep the very row objects (a rebuild does,
    to spare a copy per access) or copy them (the live page does).
    """

    def get(self, table: Table, key: Key) -> Row | None: ...
    def put(self, table: Table, row: Row) -> None: ...
    def delete(self, table: Table, key: Key) -> None: ...
    def scan(self, table: Table) -> list[Row]: ...


# ---------------------------------------------------------------- recorded events


@dataclass(frozen=True)
class FactRecorded:
    """An inbound fact applied to an account, with the balances right after it.

    The fact is rebuilt as its model when a projection first reads it: the
    envelope's type, id and time are read from the stored JSON without it, so
    a rebuild process whose projections need only those (or only the
    balances) skips that work for most facts.
    """

    position: int
    seq: int  # 0: the fact; its decisions follow as 1..n (one stored event holds them all)
    account_id: str
    load_fact: Callable[[], Fact] = field(repr=False, compare=False)
    policy_version: str
    balances: Balances
    stored: dict[str, Any] = field(repr=False, compare=False)
    """The fact's canonical JSON, parsed (what `load_fact` builds the model from)."""

    @property
    def fact(self) -> Fact:
        """A contract event or an operator's action (events.operator), built on first use."""
        found: Fact | None = self.__dict__.get("_fact")  # cached by hand: functools' cached_property locks
        if found is None:
            found = self.__dict__["_fact"] = self.load_fact()
        return found

    @property
    def fact_type(self) -> str:
        """The fact's `type` (its model's name), as `fact.type` gives it."""
        return str(self.stored["type"])

    @property
    def event_id(self) -> str:
        return str(self.stored["event_id"])

    @property
    def occurred_at(self) -> datetime:
        """The fact's event time in UTC (the instant `fact.occurred_at` gives), computed once."""
        found: datetime | None = self.__dict__.get("_at")
        if found is None:
            found = self.__dict__["_at"] = datetime.fromisoformat(self.stored["occurred_at"]).astimezone(UTC)
        return found


@dataclass(frozen=True)
class DecisionRecorded:
    """One decision the policy took on a fact, with at most one command."""

    position: int
    seq: int  # its place among the recorded events of its notification (1..n; 0 is the fact)
    account_id: str
    decision: RecordedDecision

    @property
    def occurred_at(self) -> datetime:
        return datetime.fromisoformat(self.decision.occurred_at)

    @property
    def command_type(self) -> str | None:
        return None if self.decision.command is None else str(self.decision.command["type"])


@dataclass(frozen=True)
class DayRecorded:
    """The platform closed a business date (billing's `DayClosed`)."""

    position: int
    business_date: date
    fact: DayClosed


Recorded = FactRecorded | DecisionRecorded | DayRecorded


class Projection(ABC):
    """Turns recorded events into row changes; bump `version` when rows would differ."""

    name: str
    version: int
    tables: tuple[Table, ...]
    doc: str
    weight: int = 1
    """Its rebuild cost beside the others (CPU per event beyond reading the log, rows written included, measured
    on the benchmark's workload): a parallel rebuild balances groups by it."""
    reads: frozenset[type[Recorded]] = frozenset({FactRecorded, DecisionRecorded, DayRecorded})
    """The kinds of recorded events `apply` does anything with: it is given only those (and a rebuild process
    whose projections read no decisions does not decode them)."""

    @abstractmethod
    def apply(self, event: Recorded, tables: Tables) -> None: ...


# ---------------------------------------------------------------- small helpers


def money(value: Decimal | str) -> Decimal:
    """Amounts in rows always carry two fraction digits, whatever the input wrote."""
    return (value if type(value) is Decimal else Decimal(value)).quantize(CENT)


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
