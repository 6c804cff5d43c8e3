# Checks skipped on purpose, with why; written by `llm-platform plan --export terraform-plan`.
# Read with: checkov -f terraform-plan.json --framework terraform_plan --repo-root-for-plan-enrichment checkov
resource "aws_lambda_function" "hybrid-aws-budget-enforcer" {
  # checkov:skip=CKV_AWS_117:Its code calls only the EKS and SSM APIs (budget_enforcer.py: list, describe and update node groups; get, put and delete parameters) on their public regional endpoints and reaches nothing inside the VPC; in a VPC it would need NAT or interface endpoints to make the same calls
  # checkov:skip=CKV_AWS_115:Reserving concurrency fails unless 100 stay unreserved in the account (Lambda Developer Guide, configuration-concurrency.html), and new accounts get reduced concurrency quotas (Lambda quotas page), so a reservation can refuse the deploy; only this account's budgets and alarms may publish to its topic (a few messages a month), and concurrent runs are idempotent (budget_enforcer.py docstring)
  # checkov:skip=CKV_AWS_272:The code is an inline zip Pulumi builds from budget_enforcer.py in this reviewed repository at deploy time; Lambda code signing verifies a zip signed by an AWS Signer job from a versioned S3 object, which this path has none of, and Warn mode would only log the unsigned upload
}

resource "aws_s3_bucket" "hybrid-aws-artifacts-access-logs" {
  # checkov:skip=CKV_AWS_145:A server access log target may only have SSE-S3 default encryption: SSE-KMS is not supported for it (S3 User Guide, enable-server-access-logging.md); it uses AES256
  # checkov:skip=CKV2_AWS_62:Only S3 log delivery writes here and nothing reacts to a new log object; a notification target would cost a queue or topic nobody reads
  # checkov:skip=CKV_AWS_144:Holds request logs of a bucket in this same region, expiring after the spec's log retention; an audit aid, not data the platform runs on, so a second-region copy would double their storage and add transfer for nothing it needs
}

resource "aws_s3_bucket" "hybrid-aws-artifacts-bucket" {
  # checkov:skip=CKV2_AWS_62:Nothing consumes object events: every writer (weights sync, trainers, model publisher, database backups) is one of the platform's own jobs, which reports its own completion; a notification target would cost a queue or topic nobody reads
  # checkov:skip=CKV_AWS_144:Holds weights re-downloadable from their pinned source revision, checkpoints that expire in days (artifacts.checkpoint_days), evals and versioned database backups, all stored across the region's zones; a second-region replica doubles storage and adds per-GB replication transfer
}
