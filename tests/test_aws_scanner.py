"""What Checkov reads off the AWS side of the aws and hybrid stacks (issue 19): the skips of
components/aws/scanner.py, and the fixes a user sees in the plan (a year of logs, access logs
of the artifact bucket in a bucket of their own, an autoscaler scoped to its node groups).
Each expected value is worked out here from the stack's spec."""

from __future__ import annotations

import json

import pytest
from conftest import stack_spec

from components import scan
from components.aws.scanner import SKIPS

AWS_STACKS = ("aws", "hybrid")
BUCKET = "aws:s3/bucket:Bucket"


def test_every_skip_is_well_formed():
    assert scan.problems(SKIPS) == []


def test_the_skips_are_the_checks_no_fix_fits():
    # Per resource role, the checks left once the fixes are in: the enforcer Lambda's VPC,
    # reserved concurrency and code signing; no event consumer or second region for either
    # bucket; and SSE-KMS, which a server access log target cannot have.
    by_role: dict[str, set[str]] = {}
    for skip in SKIPS:
        by_role.setdefault(skip.role, set()).add(skip.check)
    assert by_role == {
        "-budget-enforcer": {"CKV_AWS_117", "CKV_AWS_115", "CKV_AWS_272"},
        "-artifacts-bucket": {"CKV2_AWS_62", "CKV_AWS_144"},
        "-artifacts-access-logs": {"CKV_AWS_145", "CKV2_AWS_62", "CKV_AWS_144"},
    }


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_each_skip_lands_on_one_resource_of_the_stack(planned, stack):
    for skip in SKIPS:
        names = [r["name"] for r in planned[stack].resources(skip.type)
                 if skip.applies(r["type"], r["name"])]
        assert names == [f"{stack}-aws{skip.role}"], (skip.check, names)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_every_log_group_keeps_a_year_when_the_spec_says_nothing(planned, stack):
    assert "log_retention_days" not in stack_spec(stack)["aws"]
    groups = planned[stack].resources("aws:cloudwatch/logGroup:LogGroup")
    assert {g["name"].removeprefix(f"{stack}-aws-") for g in groups} == {
        "budget-enforcer-logs", "cluster-logs", "network-flow-logs"}
    assert {g["inputs"]["retentionInDays"] for g in groups} == {365}


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_the_artifact_bucket_logs_requests_to_a_private_sse_s3_bucket(planned, stack):
    p, base = planned[stack], f"{stack}-aws-artifacts"
    account = stack_spec(stack)["aws"]["account_id"]
    logs = p.one(BUCKET, f"{base}-access-logs")
    assert logs["inputs"]["bucket"] == f"llm-{stack}-access-logs-{account}"
    logging = p.one("aws:s3/bucketLogging:BucketLogging", f"{base}-logging")
    # The mock engine's ids are `<name>-id`: the artifact bucket logs into the log bucket.
    assert logging["inputs"] == {
        "bucket": f"{base}-bucket-id", "targetBucket": f"{base}-access-logs-id",
        "targetPrefix": "artifacts/"}
    policy = p.one("aws:s3/bucketPolicy:BucketPolicy", f"{base}-access-logs-policy")
    # Delivery waits for the policy that lets S3 write.
    assert policy["urn"] in logging["dependencies"]
    deny, deliver = json.loads(policy["inputs"]["policy"])["Statement"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deliver["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert deliver["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    sse = p.one("aws:s3/bucketServerSideEncryptionConfiguration:"
                "BucketServerSideEncryptionConfiguration", f"{base}-access-logs-sse")
    assert sse["inputs"]["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    pab = p.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                f"{base}-access-logs-public-access")
    assert all(pab["inputs"][k] is True for k in (
        "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    (rule,) = p.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                    f"{base}-access-logs-lifecycle")["inputs"]["rules"]
    assert rule["expiration"] == {"days": 365}


def test_the_log_bucket_is_priced_at_its_expected_five_gib(planned):
    (item,) = [i for i in planned["aws"].cost["resources"]
               if i["name"] == "aws-aws-artifacts-access-logs"]
    assert item["quantity"] == 5 and item["unit"] == "GB-month"
    assert item["monthly_usd"] == pytest.approx(5 * item["unit_usd"], abs=0.01)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_the_autoscaler_describes_only_this_clusters_node_groups(planned, stack):
    cfg = stack_spec(stack)["aws"]
    policy = planned[stack].one("aws:iam/rolePolicy:RolePolicy", f"{stack}-aws-cluster-autoscaler")
    statements = json.loads(policy["inputs"]["policy"])["Statement"]
    (nodegroups,) = [s for s in statements if "eks:DescribeNodegroup" in s["Action"]]
    assert nodegroups["Resource"] == (
        f"arn:aws:eks:{cfg['region']}:{cfg['account_id']}:nodegroup/llm-{stack}/*")
