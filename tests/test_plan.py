"""`llm-platform plan` end to end, on every example stack: artefacts, golden output,
Kubernetes 1.30 schemas, Checkov, and cost against a hand calculation."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import golden_files
import kubernetes_validate
import pinned
import pytest
from conftest import ROOT, STACKS

GOLDEN = ROOT / "tests" / "golden"


def test_local_and_second_onprem_stack_exist():
    assert {"local", "onprem-mixed"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_plan_writes_its_artefacts(planned, stack):
    p = planned[stack]
    assert p.plan["resources"], "no resources recorded"
    for r in p.plan["resources"]:
        assert set(r) == {"urn", "type", "name", "parent", "custom", "inputs", "dependencies"}
        assert r["urn"].startswith(f"urn:pulumi:{stack}::llm-platform::")
    assert p.manifest_paths
    assert p.cost["monthly_usd"] == pytest.approx(sum(i["monthly_usd"] for i in p.cost["resources"]))
    for model in p.summary["models"].values():
        assert model["why"] and model["engine_args"]


@pytest.mark.parametrize("stack", STACKS)
def test_golden_output(planned, stack):
    """A change to what a stack renders shows up as a diff under tests/golden in review.
    This only compares; `make golden` rewrites the files and prints what changed."""
    found = golden_files.changes(golden_files.render(planned[stack].out),
                                 golden_files.read(GOLDEN / stack))
    assert not found, (f"{stack}: the plan no longer matches tests/golden/{stack} "
                       "(run `make golden` to accept the change):\n"
                       + "\n".join(str(c) for c in found))


@pytest.mark.parametrize("stack", STACKS)
def test_manifests_validate_against_kubernetes_1_30(planned, stack):
    """Built-in kinds against Kubernetes 1.30's schemas; custom resources against the CRD
    of the pinned chart that installs them (tests/upstream/crds)."""
    for path, obj in zip(planned[stack].manifest_paths, planned[stack].manifests, strict=True):
        if pinned.is_custom(obj):
            assert not pinned.crd_errors(obj), (path.name, pinned.crd_errors(obj))
        else:
            kubernetes_validate.validate(obj, "1.30.0", strict=True)  # raises on any error
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "llm-platform", path


def _checkov() -> str:
    # `make install` puts Checkov in its own venv; pytest run directly finds it there too.
    venv = ROOT / ".venv-checkov" / "bin" / "checkov"
    found = os.environ.get("CHECKOV") or (str(venv) if venv.exists() else shutil.which("checkov"))
    assert found and Path(found).exists(), "checkov not installed: run `make install`"
    return found


@pytest.fixture(scope="session")
def checkov_results(planned, tmp_path_factory) -> dict[str, dict[str, list[dict]]]:
    """One Checkov run over every stack's manifests (its start-up costs more than the scan),
    each stack in its own directory so every result names the stack it belongs to."""
    root = tmp_path_factory.mktemp("checkov")
    for stack in STACKS:
        shutil.copytree(planned[stack].out / "manifests", root / stack)
    proc = subprocess.run(
        [_checkov(), "-d", str(root), "--framework", "kubernetes", "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    found: dict[str, dict[str, list[dict]]] = {
        s: {"passed": [], "failed": [], "skipped": []} for s in STACKS}
    for r in reports:
        for kind in ("passed", "failed", "skipped"):
            for c in r["results"][f"{kind}_checks"]:
                found[c["file_path"].strip("/").split("/", 1)[0]][kind].append(c)
    return found


# `make test` hands out whole files (`--dist loadfile`): one worker runs every stack's case,
# so the session's single Checkov run serves them all.
@pytest.mark.parametrize("stack", STACKS)
def test_checkov_kubernetes_checks_pass(planned, checkov_results, stack):
    failed, skipped = checkov_results[stack]["failed"], checkov_results[stack]["skipped"]
    assert not failed, [(c["check_id"], c["resource"]) for c in failed]
    # Skips are allowed only inline, with a reason: every one comes from an annotation.
    annotated = {
        (obj["kind"], obj["metadata"].get("namespace", "default"), obj["metadata"]["name"],
         v.split("=", 1)[0])
        for obj in planned[stack].manifests
        # Checkov's Kubernetes checks do not read Argo Rollouts' Rollout (its skip annotation
        # is for scanners that do); the pack's pod-template rules hold its template.
        if obj["kind"] != "Rollout"
        for k, v in (obj["metadata"].get("annotations") or {}).items()
        if k.startswith("checkov.io/skip") and len(v.split("=", 1)[1]) > 20
    }
    for c in skipped:
        kind, namespace, name = c["resource"].split(".", 2)
        assert (kind, namespace, name, c["check_id"]) in annotated, c["resource"]
    assert len(skipped) == sum(1 for *_, check in annotated if check)
    # The scan read this stack's files: each Deployment passed checks under its own name.
    deployments = {p.name for p in planned[stack].manifest_paths if p.name.startswith("deployment-")}
    scanned = {c["file_path"].rsplit("/", 1)[1] for c in checkov_results[stack]["passed"]}
    assert deployments and deployments <= scanned


def test_plan_prints_the_summary(tmp_path):
    from conftest import run_cli

    proc = run_cli("plan", "--stack", "local", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for text in ("llm-platform:kubernetes:ModelServer", "GPUs per model", "assistant why:",
                 "Monthly cost", "USD per 1k", "break-even"):
        assert text in proc.stdout, text


def test_plan_flags_a_stack_over_its_budget(scratch_project):
    from conftest import run_cli, stack_spec, write_stack

    raw = stack_spec("local")
    raw["budget"]["monthly_usd"] = 500
    # The gateway's ceiling follows the budget, and the spec refuses a team budget over it.
    raw.pop("gateway")
    write_stack(scratch_project, "tight", raw)
    proc = run_cli("plan", "--stack", "tight", "--project", str(scratch_project))
    assert proc.returncode == 0, proc.stderr
    assert "over budget: $803.00/month planned against a $500 cap" in proc.stdout


def test_the_lambdas_code_is_named_and_hashed_in_the_plan(planned):
    """A reviewer sees the enforcer's file and a hash of its bytes, not an object address or a
    path that differs from checkout to checkout."""
    source = ROOT / "components" / "aws" / "budget_enforcer.py"
    (fn,) = planned["aws"].resources("aws:lambda/function:Function")
    assert fn["inputs"]["code"] == {"archive": {"budget_enforcer.py": {
        "file": "budget_enforcer.py", "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}}}
