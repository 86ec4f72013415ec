"""Settings: what an entry point may be told, from flags or the environment, validated once.

Every value has a default, may come from an environment variable
(`FENGKONG_<NAME>`, and `KAFKA_BOOTSTRAP_SERVERS` for the brokers) and may be
overridden by a command-line flag; `pydantic-settings` reads and validates
them in that order of precedence (flag, environment, default), so a wrong
value is refused at start with the name of the setting, before anything runs.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.kafka.config import (
    CLOCK_GROUP,
    CLOCK_TOPIC,
    COMMANDS_TOPIC,
    DEAD_LETTER_TOPIC,
    DEFAULT_BOOTSTRAP,
    EVENTS_TOPIC,
    WORKER_GROUP,
    GroupTiming,
)
from adapters.store.urls import DEFAULT_STORE, is_postgres
from engine.application import DEFAULT_BATCH

Positive = Annotated[int, Field(ge=1)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FENGKONG_", extra="forbid", frozen=True)

    store: str = Field(DEFAULT_STORE, description="a SQLite file path, or postgresql://user@host:port/db")
    policy: str | None = Field(
        None,
        description="the policy new facts are decided under: a shipped version or a policy TOML file; "
        "unset: the store's active policy (default-v1 on a store that has none)",
    )
    shadow: str | None = Field(
        None, description="a candidate policy file (or version) decided beside the active one, emitting nothing"
    )
    cache_size: Positive = Field(20_000, description="accounts the engine keeps in memory")
    batch_size: Positive = Field(DEFAULT_BATCH, description="events per store transaction (Kafka: per poll)")
    projection_page: Positive = Field(5000, description="stored events per projection transaction")
    scorecards: str = Field("scorecards", description="the folder trained scorecards are written to and found in")
    scorecard: str | None = Field(None, description="the active scorecard: a version or a scorecard JSON file")

    kafka_bootstrap_servers: str = Field(
        DEFAULT_BOOTSTRAP,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "FENGKONG_KAFKA_BOOTSTRAP_SERVERS"),
    )
    events_topic: str = EVENTS_TOPIC
    dead_letter_topic: str = DEAD_LETTER_TOPIC
    clock_topic: str = CLOCK_TOPIC
    commands_topic: str = COMMANDS_TOPIC
    worker_group: str = WORKER_GROUP
    clock_group: str = CLOCK_GROUP
    session_timeout_ms: Positive = 10_000
    heartbeat_ms: Positive = 3_000
    max_poll_interval_ms: Positive = 300_000
    max_batch_bytes: Positive = 4 * 1024 * 1024
    ack_timeout_s: Annotated[float, Field(gt=0)] = 60.0
    relay_page: Positive = 500

    key: SecretStr | None = Field(None, description="the API key an operator or admin command acts with")
    master_key: SecretStr | None = Field(
        None, description="the master key that wraps personal-data keys (base64url, 32 bytes); docs/privacy.md"
    )
    master_key_previous: SecretStr | None = Field(
        None, description="earlier master keys, comma-separated, still read while a rotation runs"
    )
    master_key_file: str | None = Field(
        None, description="a file of master keys, the current one first (default for SQLite: beside the store)"
    )
    forget_list: str | None = Field(
        None,
        description="the forgotten customers' key ids, kept apart from the store and its backups (default: beside a "
        "SQLite store or a master key file; PostgreSQL with neither refuses to forget until it is set)",
    )
    metrics_port: Annotated[int, Field(ge=0, le=65535)] | None = Field(
        None, description="serve Prometheus metrics on this port (worker, relays); off when unset, 0: any free port"
    )
    metrics_host: str = Field("127.0.0.1", description="address the metrics port binds to")
    session_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = Field(
        480, description="how long a console sign-in lasts before the person signs in again"
    )
    review_warning_days: Annotated[int, Field(ge=0, le=60)] = Field(
        1, description="business days before a review's deadline from which status and metrics count it as near"
    )

    @field_validator("store")
    @classmethod
    def _store_url(cls, value: str) -> str:
        """A PostgreSQL URL must parse (its port a number); the message never repeats it (it may hold a password)."""
        if not value.strip():
            raise ValueError("store must name a SQLite file or a postgresql:// URL")
        if is_postgres(value):
            try:
                parts = urlparse(value)
                _ = parts.port
            except ValueError:
                raise ValueError("not a valid postgresql:// URL (check the host and port)") from None
            if not parts.hostname:
                raise ValueError("a postgresql:// URL needs a host")
        return value

    @classmethod
    def load(cls, **flags: Any) -> Settings:
        """Settings from the environment, with the flags that were given (None: not given) on top."""
        return cls(**{name: value for name, value in flags.items() if value is not None})

    @property
    def timing(self) -> GroupTiming:
        return GroupTiming(self.session_timeout_ms, self.heartbeat_ms, self.max_poll_interval_ms)
