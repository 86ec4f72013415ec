"""docker-compose.yml is a working recipe: the services, health checks and order, and real CLI commands."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from adapters.cli import cli
from adapters.kafka.config import CLOCK_TOPIC, COMMANDS_TOPIC, DEAD_LETTER_TOPIC, EVENTS_TOPIC

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
ENGINE_SERVICES = ("topics", "store-init", "worker", "clock-relay", "relay", "api")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def conditions(service: dict[str, Any]) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service.get("depends_on", {}).items()}


def test_kafka_runs_in_kraft_mode_with_a_health_check(compose: dict[str, Any]) -> None:
    kafka = services(compose)["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "ZOOKEEPER" not in " ".join(env)
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])
    assert "9092:9092" in kafka["ports"], "reachable from the host for KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092"


def test_postgres_15_with_a_health_check(compose: dict[str, Any]) -> None:
    postgres = services(compose)["postgres"]
    assert postgres["image"] == "postgres:15"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_engine_services_wait_for_healthy_dependencies_and_one_shots(compose: dict[str, Any]) -> None:
    all_services = services(compose)
    for name in ("worker", "relay", "api"):
        assert conditions(all_services[name]) == {
            "kafka": "service_healthy",
            "postgres": "service_healthy",
            "topics": "service_completed_successfully",
            "store-init": "service_completed_successfully",
        }, name
    assert conditions(all_services["topics"]) == {"kafka": "service_healthy"}
    assert conditions(all_services["store-init"]) == {"postgres": "service_healthy"}
    assert all_services["topics"]["restart"] == all_services["store-init"]["restart"] == "no"
    assert all_services["worker"]["deploy"]["replicas"] >= 2
    api = all_services["api"]
    assert "8000:8000" in api["ports"] and api["healthcheck"]["test"]
    for name in ENGINE_SERVICES:
        env = all_services[name]["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
        assert env["FENGKONG_STORE"].startswith("postgresql://") and "@postgres:5432/" in env["FENGKONG_STORE"]


def _serve_missing() -> bool:
    return "serve" not in cli.commands


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                condition=_serve_missing() if name == "api" else False,
                reason="`fengkong serve` comes with the read-model API (projections work), not yet merged here",
                strict=True,
            ),
        )
        for name in ENGINE_SERVICES
    ],
)
def test_every_service_command_is_a_real_cli_command_with_real_options(compose: dict[str, Any], name: str) -> None:
    command = services(compose)[name]["command"]
    assert command[0] == "fengkong"
    # --help after the service's own options: click rejects an unknown option before printing help.
    result = CliRunner().invoke(cli, [*command[1:], "--help"])
    assert result.exit_code == 0, result.output


def test_topic_creation_uses_the_default_topic_names(compose: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli, ["topics", "--help"])
    for default in (EVENTS_TOPIC, DEAD_LETTER_TOPIC, CLOCK_TOPIC, COMMANDS_TOPIC):
        assert default in result.output
    assert services(compose)["topics"]["command"][1] == "topics"


def test_the_file_is_well_formed_compose(compose: dict[str, Any]) -> None:
    """Named volumes are declared, anchors resolved; `docker compose config` agrees where the plugin exists."""
    assert set(compose) <= {"name", "services", "volumes", "x-engine"}
    declared = set(compose["volumes"])
    for name, service in services(compose).items():
        assert "image" in service or "build" in service, name
        assert isinstance(service.get("command", []), list), f"{name}: exec form, so signals reach fengkong"
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in declared, f"{name}: undeclared volume {volume}"
    docker = shutil.which("docker")
    plugin = docker is not None and subprocess.run([docker, "compose", "version"], check=False, capture_output=True)
    if plugin and plugin.returncode == 0:
        assert docker is not None
        result = subprocess.run(
            [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
            check=False,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr
