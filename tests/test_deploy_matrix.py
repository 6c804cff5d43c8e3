""".github/scripts/deploy-matrix: which deploy jobs deploy.yml starts for the stacks a merge
touches, from `llm-platform ci-targets` output (the interface of components/ci.py): the stacks
`pulumi up` runs for, the ones refused at once, and the job summary that names the skipped ones
with their reasons. The script runs as the workflow step runs it: stdin in, $GITHUB_OUTPUT
lines on stdout, the summary appended to $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import CLI, ROOT, STACKS

SCRIPT = ROOT / ".github" / "scripts" / "deploy-matrix"

AWS = {"stack": "aws", "runs_on": ["self-hosted", "llm-aws"], "deploy": True, "skip": "",
       "refuse": "", "cloud": "aws"}  # fmt: skip
GCP = {"stack": "gcp", "runs_on": ["ubuntu-24.04"], "deploy": True, "skip": "",
       "refuse": "stack gcp: the GKE API endpoint is private (gcp.authorized_networks is empty)",
       "cloud": "gcp"}  # fmt: skip
HYBRID = {"stack": "hybrid", "runs_on": ["ubuntu-24.04"], "deploy": False,
          "skip": "cluster.render_to_directory is set: a deploy from CI would write the manifests "
                  "to the runner's disk", "refuse": "", "cloud": "aws"}  # fmt: skip
LOCAL = {"stack": "local", "runs_on": ["ubuntu-24.04"], "deploy": False,
         "skip": "ci.deploy is false", "refuse": "", "cloud": ""}  # fmt: skip


def run(stdin: str, tmp_path) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    summary = tmp_path / "summary.md"
    result = subprocess.run([sys.executable, str(SCRIPT)], input=stdin, capture_output=True,
                            text=True, env={"GITHUB_STEP_SUMMARY": str(summary)}, timeout=60)  # fmt: skip
    outputs = dict(line.split("=", 1) for line in result.stdout.splitlines())
    return result, outputs, summary.read_text() if summary.exists() else ""


def test_deployable_refused_and_skipped_stacks(tmp_path):
    result, outputs, summary = run(json.dumps([AWS, GCP, HYBRID, LOCAL]), tmp_path)
    assert result.returncode == 0, result.stderr
    assert set(outputs) == {"deploy", "refused"}
    # The matrix include objects: the deploy job's runs-on, environment and login come from them.
    assert json.loads(outputs["deploy"]) == [
        {"stack": "aws", "runs_on": ["self-hosted", "llm-aws"], "cloud": "aws", "refuse": ""}
    ]
    assert [t["stack"] for t in json.loads(outputs["refused"])] == ["gcp"]
    assert json.loads(outputs["refused"])[0]["refuse"] == GCP["refuse"]
    rows = {line.split("|")[1].strip(): line for line in summary.splitlines() if line.startswith("| `")}
    assert set(rows) == {"`aws`", "`gcp`", "`hybrid`", "`local`"}
    assert "`self-hosted, llm-aws`" in rows["`aws`"] and "`pulumi up`" in rows["`aws`"]
    assert f"refused: {GCP['refuse']}" in rows["`gcp`"]
    assert f"skipped: {HYBRID['skip']}" in rows["`hybrid`"]
    assert "skipped: ci.deploy is false" in rows["`local`"]


def test_a_change_that_touches_no_stack_deploys_nothing(tmp_path):
    result, outputs, summary = run("[]\n", tmp_path)
    assert result.returncode == 0
    assert outputs == {"deploy": "[]", "refused": "[]"}
    assert "nothing to deploy" in summary


@pytest.mark.parametrize("stdin", ["", "stacks=[]", '{"stack": "aws"}', '[{"stack": "aws"}]'])
def test_anything_but_ci_targets_output_fails_and_writes_no_output(tmp_path, stdin):
    result, outputs, _ = run(stdin, tmp_path)
    assert result.returncode == 1
    assert outputs == {}
    assert result.stderr.startswith("::error::deploy-matrix: not ci-targets output")
    assert "Traceback" not in result.stderr


def test_the_example_stacks_through_the_real_ci_targets(tmp_path):
    """The local stack and the render-mode stacks never deploy from CI; the rest do or are
    refused, each on the runner ci-targets names."""
    args = [a for stack in STACKS for a in ("--stack", stack)]
    targets = subprocess.run([*CLI, "ci-targets", *args], capture_output=True, text=True, cwd=ROOT,
                             timeout=120)  # fmt: skip
    if "No such command" in targets.stderr:
        pytest.skip("llm-platform ci-targets is not in this tree yet")
    assert targets.returncode == 0, targets.stderr
    result, outputs, summary = run(targets.stdout, tmp_path)
    assert result.returncode == 0, result.stderr
    started = {t["stack"] for t in json.loads(outputs["deploy"]) + json.loads(outputs["refused"])}
    assert "local" not in started
    for stack in ("hybrid", "onprem-engines", "onprem-mixed"):
        assert stack not in started
        assert f"| `{stack}` |" in summary and "skipped: " in summary
    assert started == {"aws", "gcp", "azure"}
