"""`llm-platform plan --export terraform-plan`: the aws and gcp resources as a Terraform JSON
plan that Checkov's terraform_plan framework reads whole, links included (issue 19, part 1).

Checkov over the exports, and the checks that need a link between two resources, are in
tests/test_scanner.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from conftest import run_cli

from components import cli
from components.plan import terraform

STACKS = ("aws", "gcp", "hybrid")


@dataclass(frozen=True)
class Rec:
    """A planned resource as plan.json records it: what the export reads of one (its
    per-input dependencies aside, which plan.json does not keep; the CLI's export had them)."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict
    property_dependencies: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def records(planned) -> dict[str, list[Rec]]:
    return {s: [Rec(r["urn"], r["type"], r["name"], r["custom"], r["inputs"])
                for r in planned[s].plan["resources"]] for s in STACKS}


@pytest.fixture(scope="module")
def exports(planned) -> dict[str, Path]:
    """The exports the shared plans wrote through the CLI (conftest plans each cloud stack
    with `--export terraform-plan`)."""
    return {s: planned[s].out / terraform.FILE_NAME for s in STACKS}


def _doc(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_maps_or_is_a_listed_no_twin(records, exports, stack):
    doc = _doc(exports[stack])
    assert doc["llm_platform"]["unmapped"] == []
    custom = [r for r in records[stack] if r.custom]
    cloud = [r for r in custom if r.type.startswith(("aws:", "gcp:"))]
    planned = doc["planned_values"]["root_module"]["resources"]
    assert len(planned) == len(cloud) > 0
    skipped = {s["urn"]: s["reason"] for s in doc["llm_platform"]["skipped"]}
    # Every resource is either translated or listed as left out, never both, never lost.
    assert len(skipped) + len(planned) == len(records[stack])
    for r in records[stack]:
        if r.urn in skipped:
            assert not r.type.startswith(("aws:", "gcp:")), r.type
            assert r.type.startswith(("kubernetes:", "pulumi:providers:")) or not r.custom


def _paths(value, path=""):
    """Every input path as scripts/gen_terraform_types.py `walk` spells it (`a.[].b`)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            full = f"{path}.{key}" if path else key
            yield full
            if key not in terraform.MAPS:
                yield from _paths(sub, full)
    elif isinstance(value, list):
        for sub in value[:1]:
            yield from _paths(sub, f"{path}.[]")


@pytest.mark.parametrize("stack", STACKS)
def test_every_input_name_comes_from_the_map(records, stack):
    """Each input path the stack sets has its Terraform name in terraform_types.yaml, so none
    falls back to the mechanical rule unseen: a new input means regenerating the map."""
    table = terraform.types()
    missing = {
        (r.type, p)
        for r in records[stack] if r.type in table
        for p in _paths(r.inputs) if p not in table[r.type]["inputs_used"]
    }
    assert not missing


def test_a_new_cloud_type_is_reported_not_translated(records):
    """A token the map lacks must surface in `unmapped`, which the test above holds empty."""
    bucket = next(r for r in records["aws"] if r.type == "aws:s3/bucket:Bucket")
    new = replace(bucket, urn=bucket.urn + "-new", type="aws:s3/bucketNew:BucketNew")
    doc = terraform.export("aws", [*records["aws"], new])
    assert doc["llm_platform"]["unmapped"] == ["aws:s3/bucketNew:BucketNew"]
    types = {r["type"] for r in doc["planned_values"]["root_module"]["resources"]}
    assert "aws_s3_bucket_new" not in types and "aws_bucket_new" not in types


def _by_address(doc: dict, section: str) -> dict[str, dict]:
    root = doc[section] if section == "resource_changes" else doc[section]["root_module"]
    items = root if section == "resource_changes" else root["resources"]
    return {r["address"]: r for r in items}


def test_names_follow_the_provider_mapping(exports):
    """Renames the bridge metadata records (terraform_types.yaml), not the mechanical ones."""
    planned = _by_address(_doc(exports["aws"]), "planned_values")
    budget = next(v for a, v in planned.items() if a.startswith("aws_budgets_budget."))
    assert "cost_filter" in budget["values"] and "cost_filters" not in budget["values"]
    assert budget["values"]["notification"][0]["threshold_type"] == "PERCENTAGE"
    fn = next(v for a, v in planned.items() if a.startswith("aws_lambda_function."))
    assert fn["values"]["function_name"] == "llm-aws-enforcer"
    assert fn["values"]["filename"].startswith("archive:")
    lifecycle = next(
        v for a, v in planned.items() if a.startswith("aws_s3_bucket_lifecycle_configuration."))
    assert "rule" in lifecycle["values"] and "rules" not in lifecycle["values"]
    gcp = _by_address(_doc(exports["gcp"]), "planned_values")
    bucket = next(v for a, v in gcp.items() if a.startswith("google_storage_bucket."))
    assert "lifecycle_rule" in bucket["values"]


def test_links_are_references_to_the_target_address(exports):
    doc = _doc(exports["aws"])
    config = _by_address(doc, "configuration")
    pab = next(c for a, c in config.items() if a.startswith("aws_s3_bucket_public_access_block."))
    bucket = next(a for a in config if a.startswith("aws_s3_bucket."))
    assert pab["expressions"]["bucket"] == {"references": [f"{bucket}.id", bucket]}
    planned = _by_address(doc, "planned_values")[pab["address"]]
    # Null in the values: Checkov puts the reference there only then (plan_parser.py:490).
    assert planned["values"]["bucket"] is None
    change = _by_address(doc, "resource_changes")[pab["address"]]["change"]
    assert change["after_unknown"] == {"bucket": True} and change["before"] is None


def test_links_name_the_output_the_input_holds(exports):
    """The attribute follows the value: a mock id is `.id`, an ARN `.arn`, the target's own
    name `.name`; a nested link stays inside its block; an embedded one keeps the value."""
    doc = _doc(exports["aws"])
    config, planned = _by_address(doc, "configuration"), _by_address(doc, "planned_values")
    eks = next(a for a in config if a.startswith("aws_eks_cluster."))
    group = next(c for a, c in config.items() if a.startswith("aws_eks_node_group."))
    assert group["expressions"]["cluster_name"]["references"] == [f"{eks}.name", eks]
    role = group["expressions"]["node_role_arn"]["references"][0]
    assert role.startswith("aws_iam_role.") and role.endswith(".arn")
    nat = next(c for a, c in config.items() if a.startswith("aws_nat_gateway."))
    assert nat["expressions"]["allocation_id"]["references"][0].startswith("aws_eip.")
    cluster = config[eks]["expressions"]["encryption_config"]
    key = cluster[0]["provider"][0]["key_arn"]["references"]
    assert key[0].startswith("aws_kms_key.") and key[0].endswith(".arn")
    assert planned[eks]["values"]["encryption_config"][0]["provider"][0]["key_arn"] is None
    tls = next(a for a in config if a.startswith("aws_s3_bucket_policy."))
    assert json.loads(planned[tls]["values"]["policy"])["Statement"]
    assert config[tls]["expressions"]["policy"]["references"][1].startswith("aws_s3_bucket.")


def test_cli_writes_the_export_with_the_plan(planned, tmp_path, capsys):
    """The shared plans run the CLI with `--export terraform-plan` (conftest); what it says of
    the export is printed from the files it wrote."""
    out = planned["gcp"].out
    doc = _doc(out / "terraform-plan.json")
    assert doc["terraform_version"] and doc["llm_platform"]["stack"] == "gcp"
    assert (out / "checkov" / "skips.tf").read_text().startswith("# Checks skipped on purpose")
    cli._print_terraform_export(out)
    mapped = len(doc["planned_values"]["root_module"]["resources"])
    skipped = len(doc["llm_platform"]["skipped"])
    checks = len(doc["llm_platform"]["scanner_skips"])
    said = " ".join(capsys.readouterr().out.split())
    assert f"terraform-plan.json: {mapped} resources; {skipped} without" in said
    assert f"; {checks} Checkov checks skipped with their reasons" in said
    # `arm` became a real format beside terraform-plan (cli.EXPORTS); test a name that is none.
    bad = run_cli("plan", "--stack", "gcp", "--out", str(tmp_path / "x"), "--export", "nosuch")
    assert bad.returncode != 0 and "--export nosuch" in bad.stderr
    assert not (tmp_path / "x").exists()
