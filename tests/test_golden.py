"""Golden files that cannot bless themselves: `make golden` is the only writer, the suite only
compares, and a golden-update variable stops `make test` and pytest instead of passing a change."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import golden_files
import pytest
from conftest import ROOT, STACKS
from golden_files import Change

GOLDEN = ROOT / "tests" / "golden"


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without pytest's and xdist's own variables, nor those of a
    `make test` that started this run (a nested make would announce its directory)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "COV_", "MAKE")) and k != "MFLAGS"}
    return {**env, **extra}


def test_there_is_one_golden_directory_per_example_stack():
    assert sorted(p.name for p in GOLDEN.iterdir()) == STACKS


def test_changes_name_each_added_removed_and_changed_file_with_its_line_counts():
    golden = {"cost.json": "a\nb\nc\n", "manifests/gone.yaml": "x\ny\n", "same.yaml": "s\n"}
    fresh = {"cost.json": "a\nB\nc\nd\n", "helm/new.yaml": "n\n", "same.yaml": "s\n"}
    assert golden_files.changes(fresh, golden) == [
        Change("cost.json", "changed", plus=2, minus=1),  # b -> B, d appended
        Change("helm/new.yaml", "added", plus=1, minus=0),
        Change("manifests/gone.yaml", "removed", plus=0, minus=2),
    ]
    assert str(Change("cost.json", "changed", 2, 1)) == "changed  cost.json (+2 -1)"


def test_write_replaces_the_golden_directory_and_reports_what_it_changed(tmp_path: Path):
    golden = tmp_path / "local"
    (golden / "manifests").mkdir(parents=True)
    (golden / "manifests" / "stale.yaml").write_text("old\n")
    (golden / "cost.json").write_text("{}\n")
    fresh = {"cost.json": "{}\n", "plan.json": "{\"resources\": []}\n"}
    assert golden_files.write(fresh, golden) == [
        Change("manifests/stale.yaml", "removed", 0, 1), Change("plan.json", "added", 1, 0)]
    assert golden_files.read(golden) == fresh
    assert golden_files.write(fresh, golden) == []  # a second run has nothing to report


def test_the_golden_set_holds_plan_json_and_each_helm_release_values(planned):
    files = golden_files.render(planned["local"].out)
    # local runs kube-prometheus-stack, prometheus-adapter for the HPA's queue metric, and
    # CloudNativePG for the gateway's database.
    assert sorted(p for p in files if not p.startswith("manifests/")) == [
        "alertmanager.yaml", "cost.json", "helm/cnpg.yaml", "helm/kube-prometheus-stack.yaml",
        "helm/prometheus-adapter.yaml", "plan.json"]
    adapter = files["helm/prometheus-adapter.yaml"]
    assert adapter.startswith("# Helm release prometheus-adapter in namespace monitoring: "
                              "chart prometheus-adapter ")
    assert "as: vllm_num_requests_waiting" in adapter
    plan = json.loads(files["plan.json"])
    assert plan == json.loads((planned["local"].out / "plan.json").read_text())
    assert " object at 0x" not in files["plan.json"]


def test_an_update_variable_cannot_bless_a_changed_output(planned, tmp_path, monkeypatch):
    tampered = tmp_path / "local"
    shutil.copytree(GOLDEN / "local", tampered)
    cost = json.loads((tampered / "cost.json").read_text())
    cost["monthly_usd"] += 1
    (tampered / "cost.json").write_text(json.dumps(cost, indent=2))
    (tampered / "helm" / "prometheus-adapter.yaml").unlink()
    (tampered / "manifests" / "extra.yaml").write_text("kind: ConfigMap\n")
    before = _digest(tampered)
    monkeypatch.setenv("UPDATE_GOLDEN", "1")
    found = golden_files.changes(golden_files.render(planned["local"].out),
                                 golden_files.read(tampered))
    assert [(c.path, c.kind) for c in found] == [
        ("cost.json", "changed"), ("helm/prometheus-adapter.yaml", "added"),
        ("manifests/extra.yaml", "removed")]
    assert _digest(tampered) == before  # compared, never rewritten


@pytest.mark.parametrize("variable", ["UPDATE_GOLDEN", "golden_update"])
def test_pytest_refuses_to_run_with_a_golden_update_variable(variable):
    before = _digest(GOLDEN)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_plan.py", "-k", "golden_output",
         "-p", "no:cacheprovider"],
        cwd=ROOT, env=_clean_env(**{variable: "1"}), capture_output=True, text=True, timeout=120)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.strip()]
    assert error == [f"ERROR: {variable} is set, but the tests never rewrite golden files: "
                     "unset it and run `make golden` to accept a change to the rendered output"]
    assert _digest(GOLDEN) == before


@pytest.mark.parametrize("how", ["environment", "command line"])
def test_make_test_refuses_a_golden_update_variable(how):
    env, args = _clean_env(), ["make", "-n", "test"]
    if how == "environment":
        env["UPDATE_GOLDEN"] = "1"
    else:
        args.append("UPDATE_GOLDEN=1")
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(
        "*** make test never rewrites golden files, but UPDATE_GOLDEN is set: "
        "unset it and run `make golden`.  Stop.")
    assert proc.stdout == ""  # stopped before installing or running anything
    plain = subprocess.run(["make", "-n", "test"], cwd=ROOT, env=_clean_env(),
                           capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0 and "-m pytest -n" in plain.stdout, plain.stderr


def test_make_golden_refuses_a_stack_that_does_not_exist():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "golden"), "staging"],
                          cwd=ROOT, env=_clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "golden: no stack staging in stacks/"
