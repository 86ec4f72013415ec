"""A new policy becomes active only with four eyes: proposal, what-if report, shadow period, another admin."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.integration.test_cli import as_json, fengkong
from tests.integration.test_whatif import generated_events, policy_file
from tests.support.histories import lines, oracle
from tests.support.wiring import api_at, key_at

REFUSED = 3


def admin(tmp_path: Path, name: str, store: str, actor: str | None = None) -> str:
    args = ["keys", "create", "--role", "admin", "--name", name, "--store", store]
    return fengkong(*args, *(["--key", actor] if actor else []), cwd=tmp_path).stdout.strip()


def test_activation_with_four_eyes_report_and_shadow(tmp_path: Path, store: str) -> None:
    alice = admin(tmp_path, "alice", store)
    bob = admin(tmp_path, "bob", store, alice)
    first, shadowed, later = generated_events(1, 20), generated_events(2, 20), generated_events(4, 20)
    for name, events in (("first", first), ("shadowed", shadowed), ("later", later)):
        renamed = [
            {**e, "event_id": f"{name}-{e['event_id']}", "account_id": f"{name}-{e['account_id']}"} for e in events
        ]
        (tmp_path / f"{name}.jsonl").write_bytes(b"\n".join(lines(renamed)))
    fengkong("ingest", "first.jsonl", "--store", store, cwd=tmp_path)
    candidate = policy_file(tmp_path, "dpd7-v1", 7)

    def policy(*args: str, key: str, ok: bool = True) -> str:
        done = fengkong("policy", *args, "--store", store, "--key", key, cwd=tmp_path, ok=ok)
        assert ok or done.returncode == REFUSED, done.stderr
        return done.stdout + done.stderr

    assert "proposed dpd7-v1" in policy("propose", str(candidate), key=alice)
    assert "another admin must approve" in policy("approve", "dpd7-v1", key=alice, ok=False)
    assert "no what-if report" in policy("approve", "dpd7-v1", key=bob, ok=False)
    assert "report attached" in policy("report", "dpd7-v1", key=alice)
    assert "no shadow period" in policy("approve", "dpd7-v1", key=bob, ok=False)

    # the shadow: the candidate beside the active policy on the next traffic, emitting nothing
    done = fengkong("ingest", "shadowed.jsonl", "--store", store, "--shadow", str(candidate), "--json", cwd=tmp_path)
    assert "shadow dpd7-v1" in done.stderr
    commands = as_json(fengkong("commands", "--store", store, "--json", cwd=tmp_path))
    assert {c["policy_version"] for c in commands} == {"default-v1"}
    shadow = fengkong("shadow", "report", "--store", store, "--json", cwd=tmp_path, ok=False)
    assert shadow.returncode == 1
    report = as_json(shadow)
    assert report["commands_by_type"]["recorded"]["LockCard"] == oracle(shadowed, 1).locks
    assert report["commands_by_type"]["candidate"].get("LockCard", 0) == oracle(shadowed, 7).locks
    assert all(a.startswith("shadowed-") for a in report["differing_accounts"])
    assert "shadow period attached" in policy("shadow", "dpd7-v1", key=alice)

    assert "approved by bob" in policy("approve", "dpd7-v1", key=bob)
    fengkong("ingest", "later.jsonl", "--store", store, cwd=tmp_path)  # no --policy: the store's active one
    commands = as_json(fengkong("commands", "--store", store, "--json", cwd=tmp_path))
    assert {c["policy_version"] for c in commands if c["account_id"].startswith("later-")} == {"dpd7-v1"}
    assert as_json(fengkong("audit", "--all", "--store", store, "--json", cwd=tmp_path))["differing"] == []
    listed = {
        row["version"]: row for row in as_json(fengkong("policy", "list", "--store", store, "--json", cwd=tmp_path))
    }
    assert listed["dpd7-v1"]["status"] == "active" and listed["default-v1"]["status"] == "retired"
    assert listed["dpd7-v1"]["proposed_by"] == "alice" and listed["dpd7-v1"]["approved_by"] == "bob"
    assert listed["dpd7-v1"]["report"]["by"] == "alice" and listed["dpd7-v1"]["shadow"]["facts"] > 0


def test_a_governance_step_needs_an_admin_key(tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    alice = admin(tmp_path, "alice", store)
    analyst = fengkong(
        "keys", "create", "--role", "analyst", "--name", "ann", "--store", store, "--key", alice, cwd=tmp_path
    )
    candidate = policy_file(tmp_path, "dpd7-v1", 7)
    for key, reason in ((None, "--key"), (analyst.stdout.strip(), "admin role")):
        done = fengkong(
            "policy",
            "propose",
            str(candidate),
            "--store",
            store,
            *(["--key", key] if key else []),
            cwd=tmp_path,
            ok=False,
        )
        assert done.returncode == REFUSED and reason in done.stderr, done.stderr


def test_the_api_proposes_and_keeps_four_eyes(tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    alice, bob, ann = key_at(store, "admin", "alice"), key_at(store, "admin", "bob"), key_at(store, "analyst", "ann")
    text = policy_file(tmp_path, "dpd7-v1", 7).read_text()
    with TestClient(api_at(store)) as client:
        assert (
            client.post("/policies", json={"text": text}, headers={"Authorization": f"Bearer {ann}"}).status_code == 403
        )
        made = client.post("/policies", json={"text": text}, headers={"Authorization": f"Bearer {alice}"})
        assert made.status_code == 201 and made.json()["status"] == "proposed"
        own = client.post("/policies/dpd7-v1/approve", headers={"Authorization": f"Bearer {alice}"})
        assert own.status_code == 409 and "another admin" in own.json()["detail"]
        early = client.post("/policies/dpd7-v1/approve", headers={"Authorization": f"Bearer {bob}"})
        assert early.status_code == 409 and "no what-if report" in early.json()["detail"]
        diff = client.get("/policies/default-v1/diff/dpd7-v1", headers={"Authorization": f"Bearer {ann}"}).json()
        assert diff["differences"] == [{"setting": "lock.min_days_past_due", "a": 1, "b": 7}]
        listed = client.get("/policies", headers={"Authorization": f"Bearer {ann}"}).json()
        assert [row["version"] for row in listed] == ["dpd7-v1", "default-v1", "default-v2"]  # then the shipped
