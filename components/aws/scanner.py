"""Checkov checks that do not fit this cloud's resources, each with its reason
(components/scan.py says how the exports carry them). Pure: no Pulumi import."""

from __future__ import annotations

from components.scan import Skip

LAMBDA = "aws:lambda/function:Function"
BUCKET = "aws:s3/bucket:Bucket"
# Logical names: `<stack>-aws-budget-enforcer` (budget.py), `<stack>-aws-artifacts-bucket`
# and `<stack>-aws-artifacts-access-logs` (artifacts.py), in stack aws as in hybrid.
ENFORCER = "-budget-enforcer"
ARTIFACTS = "-artifacts-bucket"
ACCESS_LOGS = "-artifacts-access-logs"

SKIPS: tuple[Skip, ...] = (
    # The hard-cap Lambda (components/aws/budget.py, BudgetAlerts._enforcer).
    Skip(
        LAMBDA, ENFORCER, "CKV_AWS_117",
        "Its code calls only the EKS and SSM APIs (budget_enforcer.py: list, describe and "
        "update node groups; get, put and delete parameters) on their public regional "
        "endpoints and reaches nothing inside the VPC; in a VPC it would need NAT or "
        "interface endpoints to make the same calls",
    ),
    Skip(
        LAMBDA, ENFORCER, "CKV_AWS_115",
        "Reserving concurrency fails unless 100 stay unreserved in the account (Lambda "
        "Developer Guide, configuration-concurrency.html), and new accounts get reduced "
        "concurrency quotas (Lambda quotas page), so a reservation can refuse the deploy; "
        "only this account's budgets and alarms may publish to its topic (a few messages a "
        "month), and concurrent runs are idempotent (budget_enforcer.py docstring)",
    ),
    Skip(
        LAMBDA, ENFORCER, "CKV_AWS_272",
        "The code is an inline zip Pulumi builds from budget_enforcer.py in this reviewed "
        "repository at deploy time; Lambda code signing verifies a zip signed by an AWS Signer "
        "job from a versioned S3 object, which this path has none of, and Warn mode would "
        "only log the unsigned upload",
    ),
    # The artifact bucket (components/aws/artifacts.py, ArtifactBucket).
    Skip(
        BUCKET, ARTIFACTS, "CKV2_AWS_62",
        "Nothing consumes object events: every writer (weights sync, trainers, model "
        "publisher, database backups) is one of the platform's own jobs, which reports its "
        "own completion; a notification target would cost a queue or topic nobody reads",
    ),
    Skip(
        BUCKET, ARTIFACTS, "CKV_AWS_144",
        "Holds weights re-downloadable from their pinned source revision, checkpoints that "
        "expire in days (artifacts.checkpoint_days), evals and versioned database backups, "
        "all stored across the region's zones; a second-region replica doubles storage and "
        "adds per-GB replication transfer",
    ),
    # The artifact bucket's access-log bucket (components/aws/artifacts.py, _access_logs).
    # It logs nothing itself (the S3 User Guide, enable-server-access-logging.md: a target
    # "should not have server access logging enabled"), yet CKV_AWS_18 passes on it: the
    # graph check (graph_checks/aws/S3BucketLogging.json) counts any connection to an
    # aws_s3_bucket_logging, and the target is connected too. So no skip is needed there.
    Skip(
        BUCKET, ACCESS_LOGS, "CKV_AWS_145",
        "A server access log target may only have SSE-S3 default encryption: SSE-KMS is not "
        "supported for it (S3 User Guide, enable-server-access-logging.md); it uses AES256",
    ),
    Skip(
        BUCKET, ACCESS_LOGS, "CKV2_AWS_62",
        "Only S3 log delivery writes here and nothing reacts to a new log object; a "
        "notification target would cost a queue or topic nobody reads",
    ),
    Skip(
        BUCKET, ACCESS_LOGS, "CKV_AWS_144",
        "Holds request logs of a bucket in this same region, expiring after the spec's log "
        "retention; an audit aid, not data the platform runs on, so a second-region copy "
        "would double their storage and add transfer for nothing it needs",
    ),
)
