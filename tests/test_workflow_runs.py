"""preview.yml and deploy.yml run here, job by job, with a faked event (tests/workflow_harness.py):
the cases of issue 15. Each builds a fixture repository from this checkout plus the commits of
its case, runs the jobs the runner would (our scripts and `llm-platform` for real; the `pulumi`
CLI, `make deps` and the third-party actions faked), and asserts what each job hands on and
what a pull request's author would read: the sticky comment, the job summary, the error line.

Only the matrix legs a case needs run (an offline plan costs seconds); the others are asserted
as the matrix the runner would expand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml
from conftest import serve_http
from workflow_harness import REPOSITORY, Event, Fixture, JobResult, Run, legs, run_job

PREVIEW = ".github/workflows/preview.yml"
DEPLOY = ".github/workflows/deploy.yml"
ZERO = "0" * 40
HOSTED = ["ubuntu-24.04"]
CI_PASSED = {"ci": {"result": "success", "outputs": {}}}
VARS = {"PULUMI_ORGANIZATION": "acme"}
# GitHub refuses a comment body over 65,536 characters.
MAX_COMMENT = 65_536


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return Fixture.template(tmp_path_factory.mktemp("template") / "repo")


@pytest.fixture
def repo(template: Fixture, tmp_path: Path) -> Fixture:
    return template.clone(tmp_path / "repo")


def stacks_in(fixture: Fixture) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")]
                  for p in (fixture.path / "stacks").glob("Pulumi.*.yaml"))


def spec(fixture: Fixture, stack: str) -> dict:
    doc = yaml.safe_load((fixture.path / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    return doc["config"]["llm-platform:spec"]


def edit_stack(fixture: Fixture, stack: str, old: str, new: str) -> dict[str, str]:
    text = (fixture.path / "stacks" / f"Pulumi.{stack}.yaml").read_text()
    assert old in text
    return {f"stacks/Pulumi.{stack}.yaml": text.replace(old, new, 1)}


def ok(job: JobResult) -> JobResult:
    assert job.status == "success", job.log
    return job


def outputs_json(job: JobResult) -> dict[str, object]:
    return {k: json.loads(v) for k, v in job.outputs.items() if v.startswith(("[", "{"))}


# --- preview.yml

@dataclass
class LocalChange:
    """A pull request changing the `local` stack, and its `stacks` job: shared by the cases
    that differ only in what `pulumi preview` answers (each plan costs seconds)."""

    repo: Fixture
    event: Event
    stacks: JobResult


@pytest.fixture(scope="module")
def local_change(template: Fixture, tmp_path_factory: pytest.TempPathFactory) -> LocalChange:
    tmp = tmp_path_factory.mktemp("local-change")
    repo = template.clone(tmp / "repo")
    repo.commit(edit_stack(repo, "local", "max_nodes: 2", "max_nodes: 3"), branch="scale")
    event = repo.pull_request("scale")
    return LocalChange(repo, event, ok(run_job(Run(repo, PREVIEW, event, tmp / "run", vars=VARS),
                                               "stacks")))


def test_preview_of_a_pull_request_touching_one_stack(local_change: LocalChange, tmp_path: Path):
    """One stack previewed on its runner, its review in a sticky comment; every other stack's
    comment is replaced by a note that this pull request no longer touches it."""
    repo, stacks = local_change.repo, local_change.stacks
    preview = "Previewing update (acme/local)\n\nResources:\n    ~ 1 to update\n    41 unchanged\n"
    run = Run(repo, PREVIEW, local_change.event, tmp_path / "run", vars=VARS,
              pulumi={"stack select": {}, "preview": {"output": preview}})

    out = outputs_json(stacks)
    assert out["stacks"] == ["local"]
    assert [t["stack"] for t in out["targets"]] == ["local"]
    assert out["targets"][0]["runs_on"] == (spec(repo, "local").get("ci", {}).get("runner") or HOSTED)
    assert sorted(out["stale"]) == [s for s in stacks_in(repo) if s != "local"]

    (leg,) = legs(run, "preview", {"stacks": stacks})
    assert leg["stack"] == "local" and leg["runs_on"] == out["targets"][0]["runs_on"]
    job = ok(run_job(run, "preview", matrix=leg, needs={"stacks": stacks}))
    assert job.runs_on == leg["runs_on"]
    # The stack's own dependencies only (locks/plan*.txt), not the test extra and its torch.
    assert job.commands("make") == [["deps", "STACK=local"]]
    # An on-prem stack has no cloud layer: nothing to export, no Checkov, no section about it.
    assert job.step("plan").outputs["scan"] == "false" and job.step("checkov").outcome == "skipped"
    assert [c["with"]["organization"] for c in job.called("pulumi/auth-actions")] == ["acme"]
    assert job.commands("pulumi")[-1][:3] == ["preview", "--stack", "acme/local"]
    (comment,) = job.called("marocchino/sticky-pull-request-comment")
    assert comment["header"] == "llm-platform-local"
    assert "### llm-platform: `local`" in comment["text"] and "41 unchanged" in comment["text"]
    assert "Checkov" not in comment["text"]
    assert job.summary == "" and job.errors() == []

    stale = legs(run, "untouched", {"stacks": stacks})
    assert sorted(leg["stack"] for leg in stale) == sorted(out["stale"])
    note = ok(run_job(run, "untouched", matrix=stale[0], needs={"stacks": stacks}))
    (replaced,) = note.called("marocchino/sticky-pull-request-comment")
    assert replaced["header"] == f"llm-platform-{stale[0]['stack']}"
    assert replaced["with"].get("only_update") == "true"
    head = local_change.event.payload["pull_request"]["head"]["sha"]
    assert f"no longer touched by this pull request as of {head}" in replaced["text"].lower()


def test_preview_that_fails_with_a_text_over_128_kib(local_change: LocalChange, tmp_path: Path):
    """A failed preview whose output is over 128 KiB (one leg for two of the issue's cases: a
    plan costs seconds): the text reaches the review as a file, not an environment variable
    ("Argument list too long"); the comment fits GitHub's limit, quotes the error and the
    violations, keeps the end of the output, and the check fails naming the preview."""
    error = 'error: Get "https://10.0.0.1:6443/version": dial tcp 10.0.0.1:6443: i/o timeout'
    violation = "[mandatory]  llm-platform v1  budget-hard-cap (llm-platform-local)"
    body = "".join(f"    ~ kubernetes:apps/v1:Deployment server-{i} update [diff: ~spec]\n"
                   for i in range(3000))
    preview = (f"Previewing update (acme/local)\n\n{body}\n"
               "Diagnostics:\n  kubernetes:core/v1:Namespace (llm):\n    " + error + "\n\n"
               "Policy Violations:\n    " + violation + "\n    the monthly cost exceeds the cap\n\n"
               "Resources:\n    ~ 3000 to update\n")
    assert len(preview.encode()) > 128 * 1024
    run = Run(local_change.repo, PREVIEW, local_change.event, tmp_path / "run", vars=VARS,
              pulumi={"preview": {"output": preview, "exit": 255}})
    stacks = local_change.stacks
    (leg,) = legs(run, "preview", {"stacks": stacks})
    job = run_job(run, "preview", matrix=leg, needs={"stacks": stacks})
    assert job.status == "failure"
    assert job.step("preview").outputs == {"exit": "255"}
    assert "Argument list too long" not in job.log
    (comment,) = job.called("marocchino/sticky-pull-request-comment")
    text = comment["text"]
    assert error in text and violation in text and "3000 to update" in text
    assert len(text) < MAX_COMMENT
    assert "no PULUMI_ACCESS_TOKEN" not in text
    assert any("pulumi preview failed with exit code 255" in e for e in job.errors())


def test_preview_of_a_pull_request_touching_a_component(repo: Fixture, tmp_path: Path):
    """A change under components/ previews every stack, each on the runner its `ci` block
    names; no comment is left stale. (Which paths mean every stack, .github/ among them, is
    tests/test_changed_stacks.py's; here, that the workflow hands the list on.)"""
    repo.commit({"components/README-ci.md": "a note\n"}, branch="component")
    run = Run(repo, PREVIEW, repo.pull_request("component"), tmp_path / "run", vars=VARS)
    stacks = ok(run_job(run, "stacks"))
    out = outputs_json(stacks)
    every = stacks_in(repo)
    assert sorted(out["stacks"]) == every and out["stale"] == [] and out["removed"] == []
    matrix = legs(run, "preview", {"stacks": stacks})
    assert sorted(leg["stack"] for leg in matrix) == every
    for leg in matrix:
        assert leg["runs_on"] == (spec(repo, leg["stack"]).get("ci", {}).get("runner") or HOSTED)
    assert legs(run, "untouched", {"stacks": stacks}) == []


def test_preview_of_a_readme_only_pull_request(repo: Fixture, tmp_path: Path):
    repo.commit({"README.md": "# changed\n"}, branch="docs")
    run = Run(repo, PREVIEW, repo.pull_request("docs"), tmp_path / "run", vars=VARS)
    stacks = ok(run_job(run, "stacks"))
    out = outputs_json(stacks)
    assert out["stacks"] == [] and out["targets"] == []
    assert legs(run, "preview", {"stacks": stacks}) == []
    assert sorted(leg["stack"] for leg in legs(run, "untouched", {"stacks": stacks})) == stacks_in(repo)


def test_preview_of_a_pull_request_deleting_a_stack(repo: Fixture, tmp_path: Path):
    """A deleted stack is never previewed (its plan cannot pass); its comment says why."""
    gone = "onprem-mixed"
    repo.commit({f"stacks/Pulumi.{gone}.yaml": None}, branch="delete")
    event = repo.pull_request("delete")
    run = Run(repo, PREVIEW, event, tmp_path / "run", vars=VARS)
    stacks = ok(run_job(run, "stacks"))
    out = outputs_json(stacks)
    assert out["stacks"] == [] and out["removed"] == [gone]
    assert any(gone in text for kind, text in stacks.annotations if kind == "notice")
    assert legs(run, "preview", {"stacks": stacks}) == []
    stale = legs(run, "untouched", {"stacks": stacks})
    assert gone in [leg["stack"] for leg in stale]
    note = ok(run_job(run, "untouched", matrix={"stack": gone}, needs={"stacks": stacks}))
    (replaced,) = note.called("marocchino/sticky-pull-request-comment")
    assert replaced["header"] == f"llm-platform-{gone}"
    assert "deleted by this pull request" in replaced["text"]


def test_preview_of_a_fork_pull_request(local_change: LocalChange, tmp_path: Path):
    """No credentials, no self-hosted runner, no comment (its token is read-only): the review
    is in the job summary and the check is the policy verdict."""
    repo = local_change.repo
    run = Run(repo, PREVIEW, repo.pull_request("scale", number=8, fork=True), tmp_path / "run",
              vars=VARS, secrets={"PREVIEW_KUBECONFIG": "apiVersion: v1"})
    stacks = ok(run_job(run, "stacks"))
    (leg,) = legs(run, "preview", {"stacks": stacks})
    job = run_job(run, "preview", matrix=leg, needs={"stacks": stacks})
    assert job.runs_on == HOSTED
    assert job.called("marocchino/sticky-pull-request-comment") == []
    assert job.called("pulumi/auth-actions") == [] and job.commands("pulumi") == []
    assert "### llm-platform: `local`" in job.summary and "fork" in job.summary
    assert ok(job).errors() == []
    assert legs(run, "untouched", {"stacks": stacks}) == []


def test_preview_of_a_cloud_stack_puts_checkovs_counts_in_the_comment(repo: Fixture, tmp_path: Path):
    """Issue 19, part 4: the aws stack's plan exports its cloud layer, the pinned Checkov (`make
    checkov`, here this machine's .venv-checkov) scans it for real, and the comment carries the
    counts and the failed checks; a failed check fails the check after the comment is posted.
    The change keeps logs 30 days, under the year Checkov asks of a log group (CKV_AWS_338):
    the cluster's and the flow logs' groups fail; the budget enforcer's keeps a year anyway."""
    repo.commit(edit_stack(repo, "aws", "      region: us-east-1\n",
                           "      region: us-east-1\n      log_retention_days: 30\n"), branch="aws")
    # No Pulumi organization: no preview, so nothing but the plan and the scan runs.
    run = Run(repo, PREVIEW, repo.pull_request("aws"), tmp_path / "run")
    stacks = ok(run_job(run, "stacks"))
    (leg,) = legs(run, "preview", {"stacks": stacks})
    job = run_job(run, "preview", matrix=leg, needs={"stacks": stacks})
    assert job.commands("make") == [["deps", "STACK=aws"], ["checkov"]]
    assert job.step("plan").outputs == {"exit": "0", "scan": "true"}
    assert job.step("checkov").outcome == "success", job.log
    report = json.loads((job.workspace / "checkov.json").read_text())
    assert list(report) == ["aws/terraform-plan.json"]
    counts = report["aws/terraform-plan.json"]
    assert counts["passed"] > 0  # Checkov read the export
    failed = sorted((f["check"], f["resource"]) for f in counts["failures"])
    assert failed == [("CKV_AWS_338", "aws_cloudwatch_log_group.aws-aws-cluster-logs"),
                      ("CKV_AWS_338", "aws_cloudwatch_log_group.aws-aws-network-flow-logs")]
    (comment,) = job.called("marocchino/sticky-pull-request-comment")
    text = comment["text"]
    assert (f"| `aws/terraform-plan.json` | {counts['passed']} | 2 | "
            f"{counts['skipped']} |") in text.splitlines()
    assert "- `CKV_AWS_338` on `aws_cloudwatch_log_group.aws-aws-cluster-logs`: " in text
    assert "**2 failed checks**" in text
    assert job.status == "failure" and job.step("Verdict").outcome == "failure"
    assert job.errors() == ["stack aws: Checkov failed checks in the cloud exports (see the review)"]
    assert "_No `pulumi preview`: the repository variable `PULUMI_ORGANIZATION` is not set" in text


def test_a_cloud_stack_whose_scan_could_not_run_says_not_run(repo: Fixture, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    """`make checkov` left no Checkov (here: the venv it links does not exist): the preview
    still runs, the comment says Checkov did not run rather than nothing, and the check fails
    naming the scan."""
    monkeypatch.setenv("CHECKOV", str(tmp_path / "no-venv" / "bin" / "checkov"))
    repo.commit(edit_stack(repo, "gcp", "config:", "# touched\nconfig:"), branch="gcp")
    run = Run(repo, PREVIEW, repo.pull_request("gcp"), tmp_path / "run")
    stacks = ok(run_job(run, "stacks"))
    (leg,) = legs(run, "preview", {"stacks": stacks})
    job = run_job(run, "preview", matrix=leg, needs={"stacks": stacks})
    assert job.step("checkov").outputs == {"exit": "2"}
    assert "not an executable checkov" in job.step("checkov").log
    (comment,) = job.called("marocchino/sticky-pull-request-comment")
    assert ("**Checkov** over the cloud exports: **not run** (scripts/checkov-exports wrote no "
            "report; the scan step's log says why). The exports are unchecked, not clean."
            ) in comment["text"].splitlines()
    assert job.status == "failure"
    assert job.errors() == ["stack gcp: Checkov did not scan the cloud exports (exit code 2; "
                            "see its step's log)"]


# --- deploy.yml

class _Environments(BaseHTTPRequestHandler):
    """GET /repos/<repo>/environments/<name> of GitHub's REST API, for check-environment."""

    known: dict[str, dict] = {}

    def do_GET(self) -> None:  # noqa: N802 - the handler's API
        name = self.path.rsplit("/", 1)[-1]
        found = self.path.startswith(f"/repos/{REPOSITORY}/environments/") and name in self.known
        body = json.dumps(self.known[name] if found else {"message": "Not Found"}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def github_api() -> Iterator[str]:
    with serve_http(_Environments) as url:
        yield url


def deployable(fixture: Fixture, stack: str) -> bool:
    """What the README promises: render-mode stacks and `ci.deploy: false` are not deployed."""
    s = spec(fixture, stack)
    return not (s.get("cluster") or {}).get("render_to_directory") and \
        (s.get("ci") or {}).get("deploy", True) is not False


def test_deploy_of_a_first_push(repo: Fixture, tmp_path: Path):
    """`before` is all zeros: every stack is considered, and a notice says why (a force push,
    whose `before` is not in the history, is tests/test_changed_stacks.py's); only the
    deployable stacks deploy, each on its runner; the others are named in the summary; nothing
    runs unless CI passed."""
    run = Run(repo, DEPLOY, repo.push(ZERO), tmp_path / "run", vars=VARS)
    stacks = ok(run_job(run, "stacks", needs=CI_PASSED))
    assert any("first push" in text for kind, text in stacks.annotations if kind == "notice")
    out = outputs_json(stacks)
    expected = [s for s in stacks_in(repo) if deployable(repo, s)]
    assert sorted(t["stack"] for t in out["deploy"]) == expected
    assert out["refused"] == []
    for target in out["deploy"]:
        assert target["runs_on"] == (spec(repo, target["stack"]).get("ci", {}).get("runner") or HOSTED)
    for stack in set(stacks_in(repo)) - set(expected):
        assert f"`{stack}`" in stacks.summary and "skipped" in stacks.summary
    matrix = legs(run, "deploy", {"stacks": stacks})
    assert sorted(leg["stack"] for leg in matrix) == expected
    assert legs(run, "refused", {"stacks": stacks}) == []
    assert legs(run, "deploy", {"stacks": stacks, **CI_PASSED}) == matrix
    assert legs(run, "stacks", {"ci": {"result": "failure"}}) == []


def test_deploy_refuses_a_stack_whose_private_endpoint_ci_cannot_reach(repo: Fixture, tmp_path: Path):
    text = (repo.path / "stacks" / "Pulumi.aws.yaml").read_text()
    doc = yaml.safe_load(text)
    doc["config"]["llm-platform:spec"].pop("ci", None)
    assert not doc["config"]["llm-platform:spec"]["aws"].get("public_endpoint_cidrs")
    before = repo.head("main")
    repo.commit({"stacks/Pulumi.aws.yaml": yaml.safe_dump(doc)}, branch="main")
    run = Run(repo, DEPLOY, repo.push(before), tmp_path / "run", vars=VARS)
    stacks = ok(run_job(run, "stacks", needs=CI_PASSED))
    out = outputs_json(stacks)
    assert out["deploy"] == [] and [t["stack"] for t in out["refused"]] == ["aws"]
    assert legs(run, "deploy", {"stacks": stacks}) == []
    (leg,) = legs(run, "refused", {"stacks": stacks})
    refused = run_job(run, "refused", matrix=leg, needs={"stacks": stacks})
    assert refused.status == "failure"
    (line,) = refused.errors()
    assert "aws" in line and "ci.runner" in line and "public_endpoint_cidrs" in line


def test_deploy_skips_a_render_mode_stack(repo: Fixture, tmp_path: Path):
    render = next(s for s in stacks_in(repo) if (spec(repo, s).get("cluster") or {}).get("render_to_directory"))
    before = repo.head("main")
    repo.commit(edit_stack(repo, render, "config:", "# touched\nconfig:"), branch="main")
    run = Run(repo, DEPLOY, repo.push(before), tmp_path / "run", vars=VARS)
    stacks = ok(run_job(run, "stacks", needs=CI_PASSED))
    assert outputs_json(stacks) == {"deploy": [], "refused": []}
    assert legs(run, "deploy", {"stacks": stacks}) == legs(run, "refused", {"stacks": stacks}) == []
    row = next(line for line in stacks.summary.splitlines() if f"`{render}`" in line)
    assert "skipped" in row and "render_to_directory" in row


def test_deploy_of_a_new_stack_creates_it(repo: Fixture, tmp_path: Path, github_api: str):
    """The first deploy of a stack the backend does not have yet: `pulumi stack init`, then
    `pulumi up` with the policy pack, in the stack's environment after its protection check."""
    local = (repo.path / "stacks" / "Pulumi.local.yaml").read_text()
    doc = yaml.safe_load(local)
    doc["config"]["llm-platform:spec"]["ci"] = {"deploy": True}
    # A stack made from local takes local's policy config too (it holds the gateway image's
    # digest rule at advisory until images.yml pins the digest), landed before the stack: a
    # change under policies/ would touch every stack.
    config = (repo.path / "policies" / "config" / "local.json").read_text()
    repo.commit({"policies/config/lab.json": config}, branch="main")
    before = repo.head("main")
    repo.commit({"stacks/Pulumi.lab.yaml": yaml.safe_dump(doc)}, branch="main")
    _Environments.known = {"lab": {"name": "lab", "deployment_branch_policy": {
        "protected_branches": True, "custom_branch_policies": False},
        "protection_rules": [{"type": "required_reviewers", "reviewers": []}]}}
    missing = "error: no stack named 'acme/lab' found"
    run = Run(repo, DEPLOY, repo.push(before), tmp_path / "run", vars=VARS, api_url=github_api,
              pulumi={"stack select": {"stderr": missing, "exit": 255}})
    stacks = ok(run_job(run, "stacks", needs=CI_PASSED))
    (leg,) = legs(run, "deploy", {"stacks": stacks})
    job = ok(run_job(run, "deploy", matrix=leg, needs={"stacks": stacks}))
    assert (job.environment, job.runs_on) == ("lab", HOSTED)
    pulumi = job.commands("pulumi")
    assert [c[:2] for c in pulumi] == [["stack", "select"], ["stack", "init"], ["up", "--yes"]]
    assert "acme/lab" in pulumi[1] and "--policy-pack" in pulumi[2]
