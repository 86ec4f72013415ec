"""docs/privacy.md lists exactly the personal fields of the contract's models (events/inbound.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, get_origin

from events.inbound import EVENT_TYPES
from events.personal import personal_paths

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"


def test_the_privacy_table_lists_every_personal_field_of_the_contract_and_nothing_else() -> None:
    rows = re.findall(r"^\| `([A-Za-z]+\.[a-z_.]+)` \|", DOC.read_text(), flags=re.MULTILINE)
    documented = set(rows)
    assert len(rows) == len(documented), "a field is listed twice"
    fields = {f"{kind}.{'.'.join(path)}" for kind, model in EVENT_TYPES.items() for path in personal_paths(model)}
    assert documented == fields


def test_every_free_text_field_is_personal() -> None:
    """A field of the contract's free-text type can never be left unsealed by mistake."""
    for kind, model in EVENT_TYPES.items():
        data = model.model_fields["data"].annotation
        assert data is not None
        for name, info in data.model_fields.items():
            if get_origin(info.annotation) is Literal:
                continue  # one of a few stated words (AccountClosed's reason): no one's data
            if "max_length=2000" in repr(info.metadata) or name in ("note", "reason", "reviewer", "phone"):
                assert ("data", name) in personal_paths(model), f"{kind}.data.{name}"
