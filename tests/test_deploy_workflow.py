"""deploy.yml and preview.yml as issue 15's hardening asks: nothing deploys a commit CI has not
passed, and main's CI runs once per push, inside the deploy run, rather than also on its own
push trigger beside it (where a deploy would not wait for it); the Pulumi CLI is the SDK lock's
version; Pulumi logs in by OIDC, not with a stored token; a deploy assumes the write role of
the stack's GitHub environment, a preview the read-only one."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CI_CALL = "./.github/workflows/ci.yml"


def load(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def needs(job: dict) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def upstream(jobs: dict[str, dict], job_id: str) -> set[str]:
    seen: set[str] = set()
    todo = needs(jobs[job_id])
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(needs(jobs[current]))
    return seen


def test_every_deploy_job_waits_for_ci_on_the_same_run():
    jobs = load("deploy.yml")["jobs"]
    callers = [job_id for job_id, job in jobs.items() if job.get("uses") == CI_CALL]
    assert len(callers) == 1, f"deploy.yml calls {CI_CALL} from {callers}"
    for job_id in jobs.keys() - set(callers):
        assert callers[0] in upstream(jobs, job_id), f"{job_id} can start before CI passed"
    # The deploy job itself: pulumi up runs in it.
    assert any("pulumi up" in step.get("run", "") for step in jobs["deploy"]["steps"])


def test_ci_is_callable_and_runs_once_for_main():
    triggers = load("ci.yml")["on"]
    assert "workflow_call" in triggers
    assert "pull_request" in triggers
    assert "push" not in triggers, "main's CI runs inside deploy.yml, not again on push"
    # A push to main still runs CI: through deploy.yml.
    assert load("deploy.yml")["on"]["push"]["branches"] == ["main"]


def steps(workflow: dict) -> list[tuple[str, dict]]:
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])]


def test_the_pulumi_cli_is_the_version_the_sdk_lock_pins():
    pinned = re.search(r"^pulumi==(\S+)", (ROOT / "locks" / "plan.txt").read_text(), re.M)[1]
    installs = [
        (name, step.get("with", {}).get("pulumi-version"))
        for name in ("deploy.yml", "preview.yml")
        for _, step in steps(load(name))
        if step.get("uses", "").startswith("pulumi/actions@")
    ]
    assert installs, "no workflow installs the Pulumi CLI"
    assert all(version == pinned for _, version in installs), (pinned, installs)


@pytest.mark.parametrize("name", ["deploy.yml", "preview.yml"])
def test_pulumi_logs_in_by_oidc_before_it_runs(name):
    """No long-lived PULUMI_ACCESS_TOKEN: each job that runs `pulumi` got its token from the
    OIDC exchange earlier in the same job."""
    text = (WORKFLOWS / name).read_text()
    assert "secrets.PULUMI_ACCESS_TOKEN" not in text
    for job_id, job in load(name)["jobs"].items():
        uses = [s.get("uses", "") for s in job.get("steps", [])]
        runs = [i for i, s in enumerate(job.get("steps", [])) if re.search(r"(^|\s)pulumi (up|preview|stack)", s.get("run", ""))]
        if runs:
            login = next((i for i, u in enumerate(uses) if u.startswith("pulumi/auth-actions@")), None)
            assert login is not None and login < min(runs), f"{name} {job_id}: pulumi runs without an OIDC login before it"


@pytest.mark.parametrize("name, role, environment", [("deploy.yml", "DEPLOY", True), ("preview.yml", "PREVIEW", False)])
def test_deploys_use_the_environments_write_role_and_previews_the_read_only_one(name, role, environment):
    logins = [(job_id, step) for job_id, step in steps(load(name))
              if step.get("uses", "").startswith("./.github/actions/cloud-login")]  # fmt: skip
    assert logins, f"{name} never logs in to a cloud"
    for job_id, step in logins:
        given = step["with"]
        for key in ("aws-role-arn", "gcp-service-account", "azure-client-id"):
            assert f"_{role}_" in given[key], (name, key, given[key])
        job = load(name)["jobs"][job_id]
        # The write roles are variables of the stack's GitHub environment: only a job in it sees them.
        assert ("environment" in job) is environment, (name, job_id)
