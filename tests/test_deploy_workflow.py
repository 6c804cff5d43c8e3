"""deploy.yml's order: nothing deploys a commit CI has not passed (issue 15, hardening), and
main's CI runs once per push, inside the deploy run, rather than also on its own push trigger
beside it (where a deploy would not wait for it)."""

from __future__ import annotations

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
