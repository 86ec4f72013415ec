"""Bad input everywhere: each case answered with its specific reason, the events around it applied.

The corpus (tests/reliability/corpus.py) is interleaved with a clean
synthetic stream and run through `fengkong ingest` and through a Kafka
worker. For every case: a rejection lands in the dead letters with the
reason the contract or the policy names, a documented acceptance is
recorded, a duplicate changes nothing. The accounts of the clean stream end
exactly as in a run without the bad cases, and reconcile finds no gap.
Hypothesis adds random mutations of valid events on top. Each test prints
how many distinct cases it tried.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.cli import cli
from adapters.cli.inspect import account_view
from adapters.privacy.masking import mask_payload
from adapters.synthetic.portfolio import Portfolio
from events.inbound import InvalidEvent, parse_event
from events.personal import has_personal
from tests.kafka.support import (
    Topics,
    WorkerThread,
    assert_same,
    caught_up,
    headers,
    publish,
    read_topic,
    reference_run,
    snapshot,
    wait_for,
)
from tests.reliability.corpus import (
    ACCEPTED,
    DUPLICATE,
    REJECTED,
    SKIPPED,
    cases,
    interleave,
    reason_matches,
    templates,
)
from tests.reliability.support import reconcile, topic_args
from tests.support.wiring import open_engine

LONG = os.environ.get("FENGKONG_LONG") == "1"
BASE = list(Portfolio(40, 45, seed=13).events())
CORPUS = cases(BASE)
BASE_ACCOUNTS = {event["account_id"] for event in BASE if "account_id" in event}
PHONE = templates("X")["AccountOpened"]["data"]["phone"]


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def ingest(source: Path, store: str, letters: Path | None = None, batch_size: int = 50) -> dict[str, Any]:
    args = ["ingest", str(source), "--store", store, "--batch-size", str(batch_size), "--json"]
    result = CliRunner().invoke(cli, [*args, *(["--dead-letter", str(letters)] if letters else [])])
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = orjson.loads(result.stdout)
    return summary


def base_view(store: str) -> tuple[dict[str, Any], list[str]]:
    """The clean stream's accounts and their commands, as the store holds them."""
    engine = open_engine(store)
    accounts = {}
    for account_id in sorted(BASE_ACCOUNTS):
        account = engine.account(account_id)
        accounts[account_id] = None if account is None else account_view(account)
    commands = sorted(c.command_id for c in engine.commands() if c.account_id in BASE_ACCOUNTS)
    return accounts, commands


def indexed(store: str) -> dict[str, str]:
    engine = open_engine(store)
    ids = [parse_event(raw).event.event_id for raw, _ in interleave(BASE, CORPUS) if _valid(raw)]
    return engine.store.select_digests(ids)


def _valid(raw: bytes) -> bool:
    try:
        parse_event(raw)
    except InvalidEvent:
        return False
    return True


def test_every_case_of_the_corpus_through_fengkong_ingest(tmp_path: Path, record_property: Any) -> None:
    clean_store = str(tmp_path / "clean.db")
    ingest(write_lines(tmp_path / "clean.jsonl", [orjson.dumps(e) for e in BASE]), clean_store)
    stream = interleave(BASE, CORPUS)
    source = write_lines(tmp_path / "stream.jsonl", [raw for raw, _ in stream])
    store, letters_file = str(tmp_path / "store.db"), tmp_path / "dead-letters.jsonl"
    summary = ingest(source, store, letters_file)

    letters = {}
    for line in letters_file.read_bytes().splitlines():
        letter = orjson.loads(line)
        letters[int(letter["source"].rsplit(":", 1)[1])] = letter["reason"]
    assert not [r for r in letters.values() if r.startswith("internal error")], "no defect met any input"
    digests = indexed(store)
    wrong: list[str] = []
    number = 0
    for raw, case in stream:
        if raw.strip():
            number += 1  # ingest numbers the non-blank lines from 1
        if case is None:
            continue
        if case.expect == SKIPPED:
            continue
        if case.expect == REJECTED:
            reason = letters.get(number)
            if reason is None or not reason_matches(case, reason):
                wrong.append(f"{case.name}: expected {case.reason!r}, got {reason!r}")
            continue
        parsed = parse_event(raw)
        recorded = digests.get(parsed.event.event_id)
        # An event holding personal values is recorded sealed: its digest is the sealed form's (docs/privacy.md).
        expected = recorded is not None if has_personal(parsed.event) else recorded == parsed.digest
        if number in letters or not expected:
            wrong.append(f"{case.name}: expected {case.expect}, got {letters.get(number)!r}")
    assert not wrong, f"{len(wrong)} cases not answered as defined:\n" + "\n".join(wrong[:20])

    # The neighbours: every account of the clean stream exactly as without the bad input.
    assert base_view(store) == base_view(clean_store)
    assert summary["rejected"] == sum(c.expect == REJECTED for c in CORPUS)
    reconcile(store, "--input", str(source), "--dead-letter", str(letters_file))

    by_category = Counter(case.category for case in CORPUS)
    by_outcome = Counter(case.expect for case in CORPUS)
    record_property("bad_input_cases", len(CORPUS))
    print(
        f"\nbad-input corpus: {len(CORPUS)} distinct cases among {len(BASE)} good events, "
        f"{dict(by_outcome)}; by category {dict(by_category.most_common())}"
    )


@pytest.mark.kafka
def test_the_corpus_through_a_kafka_worker_lands_in_the_dead_letter_topic_with_its_reason(
    kafka_broker: Any, topics: Topics, group: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    stream = [(raw, case) for raw, case in interleave(BASE, CORPUS) if case is None or case.expect != SKIPPED]
    lines = [raw for raw, _ in stream]
    reference = reference_run(lines, tmp_path / "reference.db")
    publish(bootstrap, lines, topics)  # DayClosed (valid or not) as in-line copies in every partition
    store = str(tmp_path / "store.db")
    worker = WorkerThread(store, bootstrap, topics, group).start()
    wait_for(caught_up(store, bootstrap, topics.events), 120, "the worker to pass every case")
    stats = worker.stop()

    reasons: dict[bytes, list[str]] = {}
    for letter in read_topic(bootstrap, topics.dead_letters):
        reasons.setdefault(letter.value or b"", []).append(headers(letter)["fengkong-error"])
    # Dead letters keep personal data masked (docs/privacy.md): a case is found by its masked form. Cases that
    # differ only in a personal field mask alike: each must then find its reason among the letters of that form.
    rejected = [case for _, case in stream if case is not None and case.expect == REJECTED]
    alike = Counter(mask_payload(case.raw) for case in rejected)
    wrong = []
    for case in rejected:
        found = reasons.get(mask_payload(case.raw), [])
        matching = [reason_matches(case, r) for r in found]
        unique = alike[mask_payload(case.raw)] == 1
        if not found or not (
            all(matching) if unique else any(matching) and len(found) >= alike[mask_payload(case.raw)]
        ):
            wrong.append(f"{case.name}: {found[:3]}")
    assert not wrong, f"{len(wrong)} cases not dead-lettered with their reason:\n" + "\n".join(wrong[:20])
    # Dead letters keep personal data masked (docs/privacy.md): a case is found by its masked form.
    accepted = [
        c for _, c in stream if c is not None and c.expect in (ACCEPTED, DUPLICATE) and mask_payload(c.raw) in reasons
    ]
    assert not accepted, [c.name for c in accepted]
    assert stats.retries == 0
    reconcile(store, *topic_args(bootstrap, topics, commands=False))
    assert_same(snapshot(store), reference.snapshot)
    print(f"\nKafka: {sum(c is not None for _, c in stream)} cases, {sum(map(len, reasons.values()))} dead letters")


# ------------------------------------------------------------ hypothesis: random mutations of valid events

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
# A mutant that stays valid must not move the clock past the good events' days: its date is long past.
TEMPLATES = [t for t in templates("MUT").values() if t["type"] != "DayClosed"] + [
    {**templates("MUT")["DayClosed"], "data": {"business_date": "2020-01-01"}}
]


@st.composite
def mutants(draw: st.DrawFn) -> bytes:
    """A valid event, broken one way: a field replaced, removed or added, or its bytes damaged."""
    event = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    how = draw(st.sampled_from(["replace", "remove", "add", "bytes", "truncate", "text"]))
    where = event if draw(st.booleans()) or not isinstance(event.get("data"), dict) else event["data"]
    key = draw(st.sampled_from(sorted(where)))
    if how == "replace":
        where[key] = draw(JSON)
    elif how == "remove":
        del where[key]
    elif how == "add":
        where[draw(st.text(min_size=1, max_size=10))] = draw(JSON)
    elif how == "text":
        where[key] = draw(st.text(max_size=40))
    raw = json.dumps(event, ensure_ascii=draw(st.booleans())).encode()
    if how == "bytes":
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=3)) + raw[at + 1 :]
    elif how == "truncate":
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    return raw


def test_a_mutated_event_is_either_valid_or_refused_with_a_reason_that_names_a_field(record_property: Any) -> None:
    tried: set[bytes] = set()

    @settings(max_examples=5000 if LONG else 1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(raw=mutants())
    def check(raw: bytes) -> None:
        tried.add(raw)
        try:
            parse_event(raw)
        except InvalidEvent as invalid:
            assert ":" in invalid.reason, "the reason names the field (or 'event' for the whole message)"
            assert PHONE not in invalid.reason and PHONE[3:] not in invalid.reason, "personal data never echoed"

    check()
    record_property("distinct_mutants", len(tried))
    print(f"\nhypothesis: {len(tried)} distinct mutated messages parsed")


def test_mutants_among_good_events_never_crash_the_engine_nor_change_their_neighbours(
    tmp_path_factory: pytest.TempPathFactory, record_property: Any
) -> None:
    tried: set[bytes] = set()

    @settings(max_examples=400 if LONG else 100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(bad=st.lists(mutants(), min_size=1, max_size=12), cut=st.integers(1, 12), seed=st.integers(0, 49))
    def check(bad: list[bytes], cut: int, seed: int) -> None:
        tried.update(bad)
        good = [orjson.dumps(e) for e in Portfolio(3, 25, seed=seed).events()]
        rng = random.Random(seed)
        stream: list[tuple[bytes, bool]] = [(raw, True) for raw in good]
        for raw in bad:
            stream.insert(rng.randrange(len(stream) + 1), (raw, False))
        engine = open_engine(str(tmp_path_factory.mktemp("mutants") / "store.db"))
        results = [
            r
            for start in range(0, len(stream), cut)
            for r in engine.process([raw for raw, _ in stream[start : start + cut]])
        ]
        assert not [r.reason for r in results if r.reason and r.reason.startswith("internal error")]
        clean = open_engine(str(tmp_path_factory.mktemp("clean") / "store.db"))
        expected = [r.outcome for r in clean.process(good)]
        got = [r.outcome for r, (_, is_good) in zip(results, stream, strict=True) if is_good]
        assert got == expected, "every good event has the outcome it has without the mutants"
        accounts = {orjson.loads(line)["account_id"] for line in good if b'"account_id"' in line}
        assert {a: _view(engine, a) for a in accounts} == {a: _view(clean, a) for a in accounts}

    check()
    record_property("distinct_mutants_through_engine", len(tried))
    print(f"\nhypothesis: {len(tried)} distinct mutated messages among good events through the engine")


def _view(engine: Any, account_id: str) -> dict[str, Any] | None:
    account = engine.account(account_id)
    return None if account is None else account_view(account)
