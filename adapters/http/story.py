"""An account's story over HTTP (role analyst): what `fengkong audit explain` tells, for the console.

Each recorded fact with its decisions — rule, the thresholds it compared
with (recorded with the decision, or from the policy text the store
recorded), the facts it saw, what it changed, its command — and who acted
for a person's action. Read from the event store through the API's one
engine (adapters.http.operators.OperatorsAccess, one request at a time).
Personal values are never shown: a sealed value (events.personal) reads
`(sealed)`, and the fields engine.explain masks stay masked.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from adapters.access.keys import Role
from adapters.http.auth import require
from adapters.http.operators import Access
from adapters.http.problems import Problem, responses
from adapters.http.read_models import AccountId
from engine.explain import PERSONAL, story
from events.personal import TOKEN, is_sealed

SEALED = "(sealed)"

router = APIRouter(dependencies=[require(Role.ANALYST)], tags=["accounts"])


def _unsealed_never(value: Any) -> Any:
    """The value with every sealed token replaced: the story is read by people."""
    if isinstance(value, str):
        return TOKEN.sub(SEALED, value)
    if isinstance(value, dict):
        return {key: _unsealed_never(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unsealed_never(item) for item in value]
    return value


@router.get(
    "/accounts/{account_id}/story",
    operation_id="story",
    summary="The account's story: facts, decisions with rule, thresholds and facts, commands, operators' actions",
    responses=responses(404),
)
def account_story(account_id: AccountId, access: Access) -> dict[str, Any]:
    with access.use() as operators:
        engine = operators.engine
        try:
            _, states = next(engine.recorded_histories([account_id]))
        except LookupError:
            raise Problem(404, f"no account {account_id!r} in the store", "unknown-account") from None
        entries = story(account_id, states, engine.documents().policy_for)
    for entry, state in zip(entries, states, strict=True):  # a masked sealed value would read as noise
        recorded = state["fact"].get("data", {})
        for name in PERSONAL:
            if is_sealed(recorded.get(name)):
                entry["data"][name] = SEALED
    return {"account_id": account_id, "facts": _unsealed_never(entries)}
