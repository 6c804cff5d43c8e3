"""The gateway's runtime (components/gateway) against a real Postgres: provisioning run as the
Job runs it, the key check LiteLLM calls, the spend ledger, the request log and its retention.

What imports LiteLLM or psycopg runs in the gateway's own venv (.venv-gateway, the image's
lock) as a subprocess; the request log is plain Python and is tested here in-process. The
real proxy in front of stub model servers is tests/test_gateway_proxy.py's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_servers import Postgres, free_port, gateway_run, postgres

KEYS = {"support-prod": "sk-support-prod-0123456789", "support-dev": "sk-support-dev-0123456789",
        "batch-prod": "sk-batch-prod-0123456789"}


def settings(**team_changes) -> dict:
    """gateway.json as components/kubernetes/gateway/config.py writes it (brief, contract 4)."""
    teams = [
        {"name": "support-bot", "models": ["assistant"], "rpm": 600, "tpm": 400000,
         "max_parallel_requests": 32, "monthly_budget_usd": 1500.0,
         "keys": ["support-prod", "support-dev"]},
        {"name": "batch", "models": ["assistant", "summarizer"], "rpm": 60, "tpm": 1000000,
         "max_parallel_requests": 8, "monthly_budget_usd": 500.0, "keys": ["batch-prod"]},
    ]
    for team in teams:
        team.update(team_changes.get(team["name"], {}))
    return {"environment": "aws", "ceiling_usd": 1800.0, "log_dir": "/var/log/llm",
            "retention_days": 30, "redact_prompts": False,
            "teams": [t for t in teams if t.get("keep", True)],
            "models": {"assistant": {"revision": "r-7f3a", "fallback": "assistant-hosted"},
                       "summarizer": {"revision": "r-0c1d", "fallback": None}}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Postgres]:
    with postgres() as pg:
        yield pg


@pytest.fixture
def db(cluster: Postgres, request: pytest.FixtureRequest) -> str:
    """A fresh database per test: its URL."""
    return cluster.database(f"gw_{abs(hash(request.node.name)) % 10**12}")


def write_inputs(tmp_path: Path, data: dict, keys: dict[str, str]) -> tuple[Path, Path]:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(data))
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir(exist_ok=True)
    for old in keys_dir.iterdir():
        old.unlink()
    for alias, value in keys.items():
        # As a mounted Secret's file may end: with a newline.
        (keys_dir / alias).write_text(value + "\n")
    return path, keys_dir


def provision(db: str, path: Path, keys_dir: Path):
    return gateway_run(["-m", "components.gateway.provision", "--settings", str(path),
                        "--keys-dir", str(keys_dir)], {"GATEWAY_DATABASE_URL": db})


def tables(cluster: Postgres, db: str) -> tuple[list[str], list[str]]:
    name = db.rsplit("/", 1)[1]
    teams = cluster.sql("SELECT name, models, rpm, tpm, max_parallel_requests, monthly_budget_usd,"
                        " xmin FROM gateway_team ORDER BY name", name).splitlines()
    keys = cluster.sql("SELECT alias, team, sha256, xmin FROM gateway_key ORDER BY alias",
                       name).splitlines()
    return teams, keys


def sha(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.encode()).hexdigest()


# --- provisioning --------------------------------------------------------------------------


def test_provisioning_twice_leaves_the_same_teams_and_keys(tmp_path, cluster, db):
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    first = provision(db, path, keys_dir)
    assert (first.returncode, first.stdout, first.stderr) == (
        0, "created 5, updated 0, deleted 0, unchanged 0\n", "")
    teams, keys = tables(cluster, db)
    # Key values never reach the database: only their SHA-256.
    assert [k.split("|")[:3] for k in keys] == [
        ["batch-prod", "batch", sha(KEYS["batch-prod"])],
        ["support-dev", "support-bot", sha(KEYS["support-dev"])],
        ["support-prod", "support-bot", sha(KEYS["support-prod"])],
    ]
    assert [t.split("|")[:6] for t in teams] == [
        ["batch", "{assistant,summarizer}", "60", "1000000", "8", "500"],
        ["support-bot", "{assistant}", "600", "400000", "32", "1500"],
    ]
    second = provision(db, path, keys_dir)
    assert (second.returncode, second.stdout) == (0, "created 0, updated 0, deleted 0, unchanged 5\n")
    # Not even rewritten: every row keeps the transaction id that wrote it (xmin).
    assert tables(cluster, db) == (teams, keys)


def test_a_changed_limit_is_updated_in_place_and_nothing_else_moves(tmp_path, cluster, db):
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    assert provision(db, path, keys_dir).returncode == 0
    teams, keys = tables(cluster, db)
    path, keys_dir = write_inputs(tmp_path, settings(**{"support-bot": {"rpm": 900}}), KEYS)
    done = provision(db, path, keys_dir)
    assert (done.returncode, done.stdout) == (0, "created 0, updated 1, deleted 0, unchanged 4\n")
    after_teams, after_keys = tables(cluster, db)
    assert after_keys == keys
    assert after_teams[0] == teams[0]  # batch: untouched
    assert after_teams[1].split("|")[:6] == ["support-bot", "{assistant}", "900", "400000", "32", "1500"]


def test_a_removed_key_and_a_removed_team_are_deleted(tmp_path, cluster, db):
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    assert provision(db, path, keys_dir).returncode == 0
    fewer = {k: v for k, v in KEYS.items() if k != "support-dev"}
    path, keys_dir = write_inputs(tmp_path, settings(**{"support-bot": {"keys": ["support-prod"]}}), fewer)
    done = provision(db, path, keys_dir)
    assert (done.returncode, done.stdout) == (0, "created 0, updated 0, deleted 1, unchanged 4\n")
    assert [k.split("|")[0] for k in tables(cluster, db)[1]] == ["batch-prod", "support-prod"]
    # The team goes with its last key; the spec is the truth.
    path, keys_dir = write_inputs(
        tmp_path, settings(batch={"keep": False}, **{"support-bot": {"keys": ["support-prod"]}}),
        {"support-prod": KEYS["support-prod"]})
    done = provision(db, path, keys_dir)
    assert (done.returncode, done.stdout) == (0, "created 0, updated 0, deleted 2, unchanged 2\n")
    teams, keys = tables(cluster, db)
    assert ([t.split("|")[0] for t in teams], [k.split("|")[0] for k in keys]) == (
        ["support-bot"], ["support-prod"])


def test_two_aliases_can_swap_their_keys_in_one_run(tmp_path, cluster, db):
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    assert provision(db, path, keys_dir).returncode == 0
    swapped = {**KEYS, "support-prod": KEYS["support-dev"], "support-dev": KEYS["support-prod"]}
    path, keys_dir = write_inputs(tmp_path, settings(), swapped)
    done = provision(db, path, keys_dir)
    assert (done.returncode, done.stdout) == (0, "created 0, updated 2, deleted 0, unchanged 3\n")
    keys = {k.split("|")[0]: k.split("|")[2] for k in tables(cluster, db)[1]}
    assert keys["support-prod"] == sha(KEYS["support-dev"])
    assert keys["support-dev"] == sha(KEYS["support-prod"])


@pytest.mark.parametrize(
    ("keys", "problems"),
    [
        ({**KEYS, "support-dev": "sk-short"},
         ["{dir}/support-dev: the key of alias 'support-dev' is 8 characters; at least 16 are required"]),
        ({k: v for k, v in KEYS.items() if k != "batch-prod"},
         ["{dir}/batch-prod: cannot read the key of alias 'batch-prod' of team 'batch' "
          "(No such file or directory)"]),
        ({**KEYS, "support-dev": KEYS["support-prod"]},
         ["{dir}/support-prod: the same key as another alias; each key must be unique",
          "{dir}/support-dev: the same key as another alias; each key must be unique"]),
    ],
    ids=["short", "missing", "duplicate"],
)
def test_a_bad_key_file_gets_one_line_exit_2_and_changes_nothing(tmp_path, cluster, db, keys, problems):
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    assert provision(db, path, keys_dir).returncode == 0
    before = tables(cluster, db)
    path, keys_dir = write_inputs(tmp_path, settings(**{"support-bot": {"rpm": 1}}), keys)
    done = provision(db, path, keys_dir)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [f"provision: {p.format(dir=keys_dir)}" for p in problems]
    assert tables(cluster, db) == before


def test_bad_settings_and_an_unreachable_database_get_one_line(tmp_path, cluster):
    path, keys_dir = write_inputs(tmp_path, settings(**{"batch": {"tpm": "lots"}}), KEYS)
    done = provision(cluster.url(), path, keys_dir)
    assert (done.returncode, done.stderr) == (
        2, f"provision: {path}: teams[1].tpm: expected int, got \"lots\"\n")
    path, keys_dir = write_inputs(tmp_path, settings(), KEYS)
    unreachable = f"postgresql://postgres:hunter2-password@127.0.0.1:{free_port()}/gw"
    done = provision(unreachable, path, keys_dir)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("provision: the gateway database: ")
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr
