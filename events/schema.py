"""JSON Schema of the inbound contract and of the outbound commands."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from events.commands import Command
from events.inbound import InboundEvent


def contract_schema(which: str = "inbound") -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) for 'inbound' events or outbound 'commands'."""
    adapter: TypeAdapter[Any] = TypeAdapter(InboundEvent if which == "inbound" else Command)
    schema = adapter.json_schema(mode="validation" if which == "inbound" else "serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "fengkong inbound event, contract v1.1" if which == "inbound" else "fengkong command"
    return schema
