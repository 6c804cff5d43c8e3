"""`llm-platform rollback`: the commands that put the cluster back on a model's previous
revision, and the edit of the stack file that pins it, on a copy of a stack."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from components.cli import main

STACK = "stacks/Pulumi.onprem-mixed.yaml"
CANDIDATE = "a09a35458c702b33eeacc393d103063234e8bc28"
STABLE = "bb46c15ee4bb56c5b63245ef50fd7637234d6f75"
CANDIDATE_SOURCE = f"https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/commit/{CANDIDATE}"
STABLE_SOURCE = f"https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/blob/{STABLE}/LICENSE"


@pytest.fixture
def project(scratch_project: Path) -> Path:
    """A copy of the project with onprem-mixed's stack file as it is, comments and all."""
    (scratch_project / STACK).write_text((ROOT / STACK).read_text())
    return scratch_project


def rollback(capsys, project: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(["rollback", "--stack", "onprem-mixed", "--project", str(project), *args])
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


def spec_models(path: Path) -> dict[str, dict]:
    doc = yaml.safe_load(path.read_text())
    return {m["name"]: m for m in doc["config"]["llm-platform:spec"]["models"]}


def test_a_rollout_is_aborted_undone_and_pinned_back(capsys, project):
    before = (project / STACK).read_text()
    code, out, err = rollback(capsys, project, "--model", "support-bot")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:5] == [
        f"Roll support-bot back from {CANDIDATE} to {STABLE}:",
        "1. now, on the cluster:",
        "   kubectl argo rollouts abort support-bot -n llm-mixed",
        "   kubectl argo rollouts undo support-bot -n llm-mixed",
        f"2. pin the previous revision in {STACK} and deploy the stack, or its next deploy "
        "rolls the revision out again:",
    ]
    # The diff: the revision line goes with the comments just above it (they are about the
    # candidate), and previous_revision, with its comment, becomes the revision.
    assert lines[5:7] == [f"--- a/{STACK}", f"+++ b/{STACK}"]
    assert [x for x in lines[8:] if x[:1] in "+-"] == [
        "-        # Mid-upgrade: the candidate revision rolls out over the stable one it replaces.",
        f"-        # The Hub commit of {CANDIDATE_SOURCE}",
        f"-        revision: {CANDIDATE}",
        f"-        previous_revision: {STABLE}",
        f"+        revision: {STABLE}",
    ]
    assert f"         # The Hub commit of {STABLE_SOURCE}" in lines
    assert (project / STACK).read_text() == before  # printed, not written


def test_write_pins_the_previous_revision_and_keeps_every_other_line(capsys, project):
    before = (project / STACK).read_text()
    code, out, _ = rollback(capsys, project, "--model", "support-bot", "--write")
    assert code == 0 and out.splitlines()[-1] == f"wrote {STACK}: commit it and deploy the stack"
    after = (project / STACK).read_text()
    bot = spec_models(project / STACK)["support-bot"]
    assert bot["revision"] == STABLE and "previous_revision" not in bot
    removed = [line for line in before.splitlines() if line not in after.splitlines()]
    assert len(removed) == 4 and len(after.splitlines()) == len(before.splitlines()) - 3
    assert "        # Read from `kubectl get node <gpu node> -o jsonpath=" in after
    # The rolled-back model names no revision to go back to: a second rollback is refused.
    code, _, err = rollback(capsys, project, "--model", "support-bot")
    assert code == 2 and err.splitlines() == [
        "error: llm-platform:spec.models[0].previous_revision: not set, so model "
        "'support-bot' has no revision to roll back to"]


def test_a_deployment_is_undone_with_kubectl(capsys, project):
    # analyst gets a previous revision (written before its revision, to show order does
    # not matter) and is served by a Deployment.
    path = project / STACK
    text = path.read_text()
    marker = "      - name: analyst\n        hf_id: meta-llama/Llama-3.3-70B-Instruct\n"
    assert marker in text
    path.write_text(text.replace(marker, f"{marker}        previous_revision: v1\n"
                                         "        source: {uri: 's3://acme/analyst/v1'}\n", 1))
    code, out, err = rollback(capsys, project, "--model", "analyst", "--write")
    assert (code, err) == (0, "")
    assert out.splitlines()[2] == "   kubectl rollout undo deployment/analyst -n llm-mixed"
    assert out.splitlines()[3].startswith("2. pin the previous revision")
    analyst = spec_models(path)["analyst"]
    assert analyst["revision"] == "v1" and "previous_revision" not in analyst
    assert analyst["source"] == {"uri": "s3://acme/analyst/v1"}


@pytest.mark.parametrize(("args", "expected"), [
    (["--model", "support-bot", "--stack", "onprem-mixd"],
     "error: stack 'onprem-mixd': no file stacks/Pulumi.onprem-mixd.yaml (did you mean "
     "'onprem-mixed'?); stacks: onprem-mixed"),
    (["--model", "suport-bot"],
     "error: --model: no model named 'suport-bot' in stack onprem-mixed (did you mean "
     "'support-bot'?); models: support-bot, analyst"),
    (["--model", "analyst"],
     "error: llm-platform:spec.models[1].previous_revision: not set, so model 'analyst' has "
     "no revision to roll back to"),
], ids=["unknown-stack", "unknown-model", "no-previous"])
def test_bad_input_is_one_line_and_exit_2(capsys, project, args, expected):
    code, out, err = rollback(capsys, project, *args)
    assert (code, out, err.splitlines()) == (2, "", [expected])
    assert (project / STACK).read_text() == (ROOT / STACK).read_text()


def test_a_stack_the_line_edit_cannot_read_is_refused(capsys, project):
    # The model written as a flow mapping: no `- name:` line to find.
    path = project / STACK
    doc = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(doc, default_flow_style=True))
    code, _, err = rollback(capsys, project, "--model", "support-bot", "--write")
    assert code == 2 and err.splitlines() == [
        f"error: {STACK}: no line '- name: support-bot' under models in the stack file; edit "
        "it by hand: set revision to llm-platform:spec.models[0].previous_revision's value"]
