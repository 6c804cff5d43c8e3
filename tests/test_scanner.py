"""Checkov over the cloud exports of every cloud stack (issue 19, part 3): 0 failed checks,
and every check skipped is one the cloud package lists with its reason, hides a real failure,
and still applies to a resource of the example stacks.

The exports come from the shared plans (conftest `planned`, which plans each cloud stack with
its `--export`); Checkov runs through scripts/checkov-exports, the command `make scan` and the
PR workflow run, so what is asserted here is what a user's own run reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, checkov_exports_script
from golden_files import EXPORT_OF_CLOUD, export_args, stack_spec

from components import clouds, scan
from components.plan import terraform

CLOUD_STACKS = ("aws", "gcp", "hybrid", "azure")


checkov_exports = checkov_exports_script()


def test_every_cloud_stack_of_the_examples_is_scanned():
    exported = {s for s in map(stack_spec_name, sorted((ROOT / "stacks").glob("Pulumi.*.yaml")))
                if export_args(stack_spec(ROOT, s))}
    assert exported == set(CLOUD_STACKS)
    assert set(EXPORT_OF_CLOUD) == set(clouds.NAMES)


def stack_spec_name(path: Path) -> str:
    return path.name[len("Pulumi."):-len(".yaml")]


@pytest.fixture(scope="module")
def reports(planned) -> dict[str, dict]:
    """One Checkov run per export, all started together (start-up is most of their time)."""
    dirs = [planned[s].out for s in CLOUD_STACKS]
    return {key.split("/")[0]: r for key, r in checkov_exports.scan(dirs).items()}


@pytest.mark.parametrize("stack", CLOUD_STACKS)
def test_checkov_finds_no_failure(reports, stack):
    report = reports[stack]
    assert [f"{f['check']} {f['resource']}" for f in report["failures"]] == []
    assert report["failed"] == 0 and report["passed"] > 0


def _declared(planned, stack: str) -> set[tuple[str, str, str]]:
    """(check, Checkov's resource id, reason) of every skip the stack's export carries."""
    out = planned[stack].out
    if (out / terraform.FILE_NAME).exists():
        doc = json.loads((out / terraform.FILE_NAME).read_text())
        return {(s["check"], s["address"], s["reason"]) for s in doc["llm_platform"]["scanner_skips"]}
    template = json.loads((out / "arm-template.json").read_text())
    return {
        (c.split(":", 1)[0], f"{r['type']}.{r['name']}", c.split(":", 1)[1])
        for r in template["resources"] for c in r.get("metadata", {}).get("checkov", [])
    }


@pytest.mark.parametrize("stack", CLOUD_STACKS)
def test_each_skip_checkov_reports_is_a_listed_one_with_its_reason(planned, reports, stack):
    """What Checkov reports skipped is exactly what the export carries. On the Terraform plan
    Checkov turns only a failure into a skip (report.py `handle_skipped_checks`), so this also
    shows each skip hides a check that fails without it."""
    skipped = {(s["check"], s["resource"], s["reason"]) for s in reports[stack]["skips"]}
    assert skipped == _declared(planned, stack)
    assert all(len(reason) >= scan.MIN_REASON for _, _, reason in skipped)


def test_arm_skips_each_hide_a_failure(planned, tmp_path):
    """Checkov's arm framework skips a listed check without running it, so the template is
    scanned again without its skips: each must then fail, or it is stale."""
    template = json.loads((planned["azure"].out / "arm-template.json").read_text())
    for r in template["resources"]:
        r.get("metadata", {}).pop("checkov", None)
    out = tmp_path / "azure"
    out.mkdir()
    (out / "arm-template.json").write_text(json.dumps(template, indent=2))
    report = checkov_exports.scan([out])["azure/arm-template.json"]
    failed = {(f["check"], f["resource"]) for f in report["failures"]}
    assert failed == {(c, r) for c, r, _ in _declared(planned, "azure")}


def test_every_listed_skip_applies_to_an_example_resource(planned):
    """A skip no example resource matches is dead text that could hide a future finding."""
    names = {(r["type"], r["name"]) for s in CLOUD_STACKS for r in planned[s].plan["resources"]}
    for cloud in clouds.clouds():
        for skip in cloud.scanner_skips:
            assert any(skip.applies(t, n) for t, n in names), skip


def test_every_listed_skip_is_well_formed():
    skips = clouds.scanner_skips()
    assert scan.problems(skips) == []


def test_skip_list_problems_are_named():
    good = "x" * scan.MIN_REASON
    bad = [
        scan.Skip("aws:s3/bucket:Bucket", "-b", "CKV-AWS-1", good),
        scan.Skip("aws:s3/bucket:Bucket", "-b", "CKV_AWS_2", "replication"),
        scan.Skip("aws:s3/bucket:Bucket", "-b", "CKV_AWS_3", good + "\nmore"),
        scan.Skip("aws:s3/bucket:Bucket", "-b", "CKV2_AWS_4", good),
        scan.Skip("aws:s3/bucket:Bucket", "-b", "CKV2_AWS_4", good),
    ]
    assert scan.problems(bad) == [
        "aws:s3/bucket:Bucket '*-b' CKV-AWS-1: not a Checkov check id (CKV_<AREA>_<n> or "
        "CKV2_<AREA>_<n>)",
        f"aws:s3/bucket:Bucket '*-b' CKV_AWS_2: the reason must say why, in at least "
        f"{scan.MIN_REASON} characters",
        "aws:s3/bucket:Bucket '*-b' CKV_AWS_3: the reason must be one line (it becomes a comment)",
        "aws:s3/bucket:Bucket '*-b' CKV2_AWS_4: listed twice",
    ]


def test_a_skip_applies_by_type_and_name_suffix():
    skip = scan.Skip("aws:s3/bucket:Bucket", "-logs-bucket", "CKV_AWS_18", "x" * 40)
    assert skip.applies("aws:s3/bucket:Bucket", "hybrid-aws-logs-bucket")
    assert not skip.applies("aws:s3/bucket:Bucket", "hybrid-aws-artifacts-bucket")
    assert not skip.applies("aws:s3/bucketV2:BucketV2", "hybrid-aws-logs-bucket")


@pytest.mark.parametrize("stack", ["aws", "gcp", "hybrid"])
def test_checkov_reads_every_translated_resource(planned, reports, stack):
    doc = json.loads((planned[stack].out / terraform.FILE_NAME).read_text())
    assert reports[stack]["parsing_errors"] == 0
    assert reports[stack]["resources"] == len(doc["planned_values"]["root_module"]["resources"])


@pytest.mark.parametrize("stack", ["aws", "hybrid"])
def test_checkov_graph_check_sees_the_public_access_block(reports, stack):
    """CKV2_AWS_6 (graph_checks/aws/S3BucketHasPublicAccessBlock.json) passes only through the
    edge from the access block's `bucket` to the bucket: without references it fails."""
    bucket = f"aws_s3_bucket.{stack}-aws-artifacts-bucket"
    assert {"check": "CKV2_AWS_6", "resource": bucket} in reports[stack]["passes"]
