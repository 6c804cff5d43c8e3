"""The README's "Scanning the cloud layer" against the exports it describes (issue 19, part 4).

trivy, conftest and OPA are not installable from the package registries this project's
machines reach, so the conftest example is checked as far as it can be here: the fields its
Rego reads are in the `aws` stack's export, and its rule, written out in Python below, passes
on that export and catches a resource without the tag. The Checkov commands the README gives
are the ones scripts/checkov-exports runs (that script is run for real by `make scan` and by
tests/test_workflow_runs.py)."""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path

import pytest
from conftest import ROOT, checkov_exports_script

from components.plan import terraform

README = (ROOT / "README.md").read_text()
SECTION = README[README.index("## Scanning the cloud layer"):README.index("## CI on GitHub")]

# The README's policy, as the Python below mirrors it: a change to either must change both.
REGO = """\
package main

import rego.v1

deny contains msg if {
	some rc in input.resource_changes
	rc.change.after.tags
	not rc.change.after.tags.owner
	msg := sprintf("%s: no owner tag", [rc.address])
}"""


def fenced_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)\n```$", text, flags=re.M | re.S)


def truthy(value: object) -> bool:
    """Rego's test of an expression: anything but `false` and undefined (None here) holds,
    `{}` and `""` included (https://www.openpolicyagent.org/docs/policy-language, "Rules")."""
    return value is not None and value is not False


def deny(plan: dict) -> list[str]:
    """The README's `deny` rule over a plan, in Python."""
    found = []
    for rc in plan["resource_changes"]:
        tags = ((rc.get("change") or {}).get("after") or {}).get("tags")
        if truthy(tags) and not truthy(tags.get("owner") if isinstance(tags, dict) else None):
            found.append(f"{rc['address']}: no owner tag")
    return found


@pytest.fixture(scope="module")
def aws_plan(planned) -> dict:
    """The aws export the shared plans write (conftest plans each cloud stack with it)."""
    return json.loads((planned["aws"].out / terraform.FILE_NAME).read_text())


def test_the_readme_policy_is_the_one_checked_here():
    assert fenced_blocks(SECTION, "rego") == [REGO]


def test_the_conftest_example_passes_on_the_aws_export_and_catches_a_missing_tag(aws_plan):
    tagged = [rc for rc in aws_plan["resource_changes"] if truthy(rc["change"]["after"].get("tags"))]
    # Not a rule that passes because it reads nothing: most resources have tags.
    assert len(tagged) >= 10 and all(isinstance(rc["address"], str) for rc in tagged)
    assert deny(aws_plan) == []
    broken = copy.deepcopy(aws_plan)
    victim = next(rc for rc in broken["resource_changes"] if rc["address"] == tagged[0]["address"])
    del victim["change"]["after"]["tags"]["owner"]
    assert deny(broken) == [f"{victim['address']}: no owner tag"]
    victim["change"]["after"]["tags"] = {}  # an empty object is still true in Rego
    assert deny(broken) == [f"{victim['address']}: no owner tag"]


def _checkov_exports_commands(out: Path) -> dict[str, list[str]]:
    return checkov_exports_script().commands(out, "checkov")


def test_the_readme_checkov_commands_are_the_scripts(tmp_path):
    """Each README command's flags are among those scripts/checkov-exports passes for the same
    export, and the plan's names the skips' directory."""
    blocks = "\n".join(fenced_blocks(SECTION, "sh"))
    commands = [shlex.split(line.replace("\\\n", " "))
                for line in re.findall(r"^\.venv-checkov/bin/checkov .*?(?<!\\)$", blocks,
                                       flags=re.M | re.S)]
    assert len(commands) == 2
    for stack in ("aws", "azure"):
        (tmp_path / stack).mkdir()
    (tmp_path / "aws" / "terraform-plan.json").write_text("{}")
    (tmp_path / "azure" / "arm-template.json").write_text("{}")
    script = {**_checkov_exports_commands(tmp_path / "aws"),
              **_checkov_exports_commands(tmp_path / "azure")}
    for command in commands:
        export = Path(command[command.index("-f") + 1])
        ours = [a.replace(str(tmp_path), "out") for a in script[export.name]]
        flags = [a for a in command[1:] if a.startswith("-")]
        assert set(flags) <= set(ours), (command, ours)
        for flag in ("-f", "--framework", "--repo-root-for-plan-enrichment"):
            if flag in command:
                assert command[command.index(flag) + 1] == ours[ours.index(flag) + 1]
