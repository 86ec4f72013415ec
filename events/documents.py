"""The stored shape of recorded documents: policies, holiday calendars, scorecards, and their lifecycle.

A document is a versioned, immutable text that decisions depend on. The first
use of one records its full text and content digest in the store, so replay
never needs the file again. Each kind of document has a stream of its own
(`DOCUMENT_STREAMS`: `$policies`, `$calendars`, `$scorecards`; no account id
can take a `$` name), whose stored events (topic `DOCUMENT_TOPIC`) are one
step each, a JSON object:

    {"v": 1, "at": 1764600000000, "step": "recorded", "version": "dpd3-v1", "by": "alice", ...}

- `recorded`: `digest` (`sha256:<hex>` of the UTF-8 text), `text` (the full text), `note`
  (how it came: first use, proposal, load), and for a calendar `source` (the loaded file's digest and text);
- `proposed`: the author (`by`) proposes the version for activation;
- `report_attached`: `report`, the summary of a what-if report over recorded history (with its digest);
- `shadow_attached`: `shadow`, the summary of a shadow run beside the active version;
- `approved`: another admin (`by`) approves it;
- `activated`: it decides from now on (first use, or the step after approval; a calendar on load).

`at` is the wall clock (milliseconds), for people only: no decision reads it.
Readers decode with `decode_step`; the format only ever adds fields.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

FORMAT = 1
DOCUMENT_TOPIC = "document"
POLICIES = "policy"
CALENDARS = "calendar"
SCORECARDS = "scorecard"
DOCUMENT_STREAMS = {POLICIES: "$policies", CALENDARS: "$calendars", SCORECARDS: "$scorecards"}
STEPS = ("recorded", "proposed", "report_attached", "shadow_attached", "approved", "activated")

Step = dict[str, Any]


def digest_of(text: str) -> str:
    """The content digest a document is recorded and compared with."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_step(step: str, version: str, by: str, at_ms: int | None = None, **fields: Any) -> bytes:
    if step not in STEPS:
        raise ValueError(f"unknown document step {step!r}")
    at = time.time_ns() // 1_000_000 if at_ms is None else at_ms
    return orjson.dumps({"v": FORMAT, "at": at, "step": step, "version": version, "by": by, **fields})


def decode_step(state: bytes) -> Step:
    body: Step = orjson.loads(state)
    if body.get("v") != FORMAT:
        raise ValueError(f"document step of format {body.get('v')!r} is not readable by format {FORMAT} code")
    return body
