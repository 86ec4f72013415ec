"""docker-compose.yml is a working recipe: the services, health checks and order, and real CLI commands."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from adapters.cli import cli
from adapters.http.api import OPEN_PATHS
from adapters.kafka.config import CLOCK_TOPIC, COMMANDS_TOPIC, DEAD_LETTER_TOPIC, EVENTS_TOPIC

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
ENGINE_SERVICES = ("topics", "store-init", "keys-init", "worker", "clock-relay", "relay", "api")


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
    assert "127.0.0.1:9092:9092" in kafka["ports"], (
        "reachable from this host for KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092"
    )


def test_postgres_15_with_a_health_check(compose: dict[str, Any]) -> None:
    postgres = services(compose)["postgres"]
    assert postgres["image"] == "postgres:15"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_engine_services_wait_for_healthy_dependencies_and_one_shots(compose: dict[str, Any]) -> None:
    all_services = services(compose)
    engine = {
        "kafka": "service_healthy",
        "postgres": "service_healthy",
        "topics": "service_completed_successfully",
        "store-init": "service_completed_successfully",
    }
    for name in ("worker", "relay"):
        assert conditions(all_services[name]) == engine, name
    assert conditions(all_services["api"]) == {**engine, "keys-init": "service_completed_successfully"}
    assert conditions(all_services["topics"]) == {"kafka": "service_healthy"}
    assert conditions(all_services["store-init"]) == {"postgres": "service_healthy"}
    assert conditions(all_services["keys-init"]) == {
        "postgres": "service_healthy",
        "store-init": "service_completed_successfully",
    }
    for one_shot in ("topics", "store-init", "keys-init"):
        assert all_services[one_shot]["restart"] == "no", one_shot
    assert all_services["worker"]["deploy"]["replicas"] >= 2
    api = all_services["api"]
    assert "8000:8000" in api["ports"] and api["healthcheck"]["test"]
    probe = re.search(r"http://localhost:8000(/[a-z.]+)", " ".join(api["healthcheck"]["test"]))
    assert probe and probe.group(1) in OPEN_PATHS, "the health check must use a route that needs no key"
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


def _published(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_postgres_and_kafka_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    """Nothing but the API (which refuses every data route without a key) listens on the host's other interfaces."""
    for name, service in services(compose).items():
        for port in _published(service):
            if name == "api":
                continue
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert _published(services(compose)["postgres"]) and _published(services(compose)["kafka"])


def test_the_first_start_creates_one_admin_key_and_later_starts_none(compose: dict[str, Any], tmp_path: Any) -> None:
    """The keys-init one-shot's own command, run twice on an empty store: a key printed once, then nothing."""
    command = services(compose)["keys-init"]["command"]
    assert command[:3] == ["fengkong", "keys", "create"] and "--if-none" in command
    assert command[command.index("--role") + 1] == "admin"
    store = str(tmp_path / "store.db")
    first = CliRunner().invoke(cli, [*command[1:], "--store", store])
    assert first.exit_code == 0, first.output
    key = first.stdout.strip()
    assert key.startswith("fk_") and first.stdout == key + "\n"
    second = CliRunner().invoke(cli, [*command[1:], "--store", store])
    assert second.exit_code == 0 and second.stdout == ""
    listed = CliRunner().invoke(cli, ["keys", "list", "--json", "--store", store, "--key", key])
    assert listed.exit_code == 0, listed.output
    assert '"role": "admin"' in listed.stdout and key not in listed.stdout


def test_service_metrics_ports_stay_inside_the_compose_network(compose: dict[str, Any]) -> None:
    for name in ("worker", "relay", "clock-relay"):
        service = services(compose)[name]
        assert "--metrics-port" in service["command"], name
        assert not _published(service), f"{name}: its metrics port is for Prometheus inside the network"
