"""`fengkong score` as users run it: train, evaluate, explain, monitor; mistakes are one line and exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from adapters.access.keys import Role
from adapters.synthetic.latent import LatentPortfolio
from tests.support.wiring import api_at, key_at

FENGKONG = str(Path(sys.executable).with_name("fengkong"))
START = date(2026, 3, 2)
AS_OF = (START + timedelta(days=124)).isoformat()


def fengkong(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FENGKONG_STORE": str(cwd / "s.db"), "FENGKONG_SCORECARDS": str(cwd / "cards")}
    done = subprocess.run([FENGKONG, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False, env=env)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A year of 120 accounts, ingested, and a scorecard trained on it."""
    path = tmp_path_factory.mktemp("score")
    events = b"".join(orjson.dumps(e) + b"\n" for e in LatentPortfolio(120, 365, seed=8).events())
    (path / "in.jsonl").write_bytes(events)
    fengkong("ingest", "in.jsonl", cwd=path)
    trained = as_json(fengkong("score", "train", "--as-of", AS_OF, "--horizon-days", "120", "--json", cwd=path))
    assert trained["version"] == f"pd-{AS_OF}-h120" and trained["written"] is True
    (path / "trained.json").write_text(json.dumps(trained))
    return path


def test_train_writes_a_versioned_file_and_refuses_to_change_it(folder: Path) -> None:
    trained = json.loads((folder / "trained.json").read_text())
    card = json.loads((folder / "cards" / f"pd-{AS_OF}-h120.json").read_text())
    assert card["scaling"] == {"base_score": 600, "base_odds": "50", "pdo": 20}
    assert card["training"]["as_of"] == AS_OF and card["out_of_time"]["horizon_days"] == 120
    assert {"auc", "ks", "baseline_auc", "psi"} <= card["metrics"]["out_of_time"].keys()
    again = as_json(fengkong("score", "train", "--as-of", AS_OF, "--horizon-days", "120", "--json", cwd=folder))
    assert again["written"] is False  # the same store, the same bytes
    other = fengkong(
        "score",
        "train",
        "--as-of",
        AS_OF,
        "--horizon-days",
        "100",
        "--version",
        trained["version"],
        cwd=folder,
        ok=False,
    )
    assert other.returncode == 1 and "versions are immutable" in other.stderr
    assert other.stderr.strip().splitlines()[-1].startswith("Error: ") and "Traceback" not in other.stderr


def test_evaluate_explain_and_monitor(folder: Path) -> None:
    result = as_json(fengkong("score", "evaluate", "--json", cwd=folder))
    assert {"auc", "ks", "baseline_auc", "n", "positives"} <= result.keys()
    assert result["as_of"] == (START + timedelta(days=244)).isoformat() and result["horizon_days"] == 120
    earlier = as_json(fengkong("score", "evaluate", "--as-of", AS_OF, "--horizon-days", "60", "--json", cwd=folder))
    assert earlier["as_of"] == AS_OF and earlier["horizon_days"] == 60 and earlier["n"] > 0

    explained = as_json(fengkong("score", "explain", "ACC0000001", "--json", cwd=folder))
    assert explained["as_of"] == (START + timedelta(days=364)).isoformat()  # the last closed business day
    assert explained["base_points"] + sum(p["points"] for p in explained["contributions"]) == explained["score"]
    assert len(explained["reasons"]) <= 3 and explained["tier"] in {"A", "B", "C", "D", "E"}
    text = fengkong("score", "explain", "ACC0000001", "--as-of", AS_OF, cwd=folder)
    assert "score" in text.stdout and "base points" in text.stdout and text.stderr == ""  # tables are results: stdout

    report = as_json(fengkong("score", "monitor", "--json", cwd=folder))
    assert report["levels"] == {"watch": 0.1, "act": 0.25}
    months = [m["month"] for m in report["months"]]
    assert months == ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12", "2027-01", "2027-02", "2027-03"]
    first = report["months"][0]
    assert first["score"]["alert"] in {"stable", "watch", "act"} and "utilisation" in first["attributes"]
    assert report["trends"]["months_on_book"]["direction"] == "rising"
    assert report["trends"]["promise_kept_rate"]["direction"] == "no data"


def test_monitor_records_its_last_month_for_status_and_metrics(folder: Path) -> None:
    """`score monitor` records its report; `fengkong status` and `/metrics` show its last month's PSI and alert."""
    report = as_json(fengkong("score", "monitor", "--json", cwd=folder))
    last = report["months"][-1]
    shown = as_json(fengkong("status", "--json", cwd=folder))["scorecard"]
    assert (shown["scorecard"], shown["month"]) == (report["scorecard"], last["month"])
    assert shown["score"] == {"psi": last["score"]["psi"], "alert": last["score"]["alert"]}
    assert shown["attributes"]["months_on_book"] == {
        "psi": last["attributes"]["months_on_book"]["psi"],
        "alert": last["attributes"]["months_on_book"]["alert"],
    }
    alerts = {last["score"]["alert"], *(figures["alert"] for figures in last["attributes"].values())}
    worst = "act" if "act" in alerts else "watch" if "watch" in alerts else "stable"
    assert shown["alert"] == worst and worst == "act"  # a single vintage ages: months on book drifts
    human = fengkong("status", cwd=folder).stdout
    assert f"scorecard {report['scorecard']}, {last['month']}" in human and "alert act" in human

    store = str(folder / "s.db")
    headers = {"Authorization": f"Bearer {key_at(store, Role.ANALYST)}"}
    with TestClient(api_at(store)) as served:
        text = served.get("/metrics", headers=headers).text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    card = report["scorecard"]
    assert float(samples[f'fengkong_scorecard_psi{{scorecard="{card}",subject="score"}}']) == last["score"]["psi"]
    months_on_book = samples[f'fengkong_scorecard_psi{{scorecard="{card}",subject="months_on_book"}}']
    assert float(months_on_book) == last["attributes"]["months_on_book"]["psi"]
    assert float(samples[f'fengkong_scorecard_psi_alert{{scorecard="{card}"}}']) == 2  # act

    quiet = as_json(fengkong("score", "monitor", "--no-record", "--until", AS_OF, "--json", cwd=folder))
    assert quiet["months"] == []  # nothing after the training as-of: not recorded, status unchanged
    assert as_json(fengkong("status", "--json", cwd=folder))["scorecard"] == shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("score", "evaluate", "--scorecard", "no-such-card"), "no scorecard named"),
        (("score", "explain", "NOBODY", "--scorecard", f"pd-{AS_OF}-h120"), "no account"),
        (("score", "train", "--as-of", "2027-01-01", "--horizon-days", "120"), "needs events up to 2027-05-01"),
        (("score", "train", "--as-of", "2026-13-01", "--horizon-days", "120"), "Invalid value for '--as-of'"),
    ],
)
def test_mistakes_are_one_line(folder: Path, args: tuple[str, ...], message: str) -> None:
    done = fengkong(*args, cwd=folder, ok=False)
    assert done.returncode in (1, 2) and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_the_demo_prints_the_scorecard_s_out_of_time_auc_beside_the_baseline_s(tmp_path: Path) -> None:
    summary = as_json(fengkong("demo", "--accounts", "150", "--json", cwd=tmp_path))
    card = summary["scorecard"]
    assert {"out_of_time_auc", "out_of_time_baseline_auc", "out_of_time_ks", "training_auc"} <= card.keys()
    assert card["version"] == "demo-s7-a150-2026-07-04-h120"
    assert (tmp_path / "cards" / f"{card['version']}.json").is_file()
    again = as_json(fengkong("score", "evaluate", "--scorecard", card["version"], "--json", cwd=tmp_path))
    assert (again["auc"], again["baseline_auc"]) == (card["out_of_time_auc"], card["out_of_time_baseline_auc"])
