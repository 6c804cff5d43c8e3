"""What the artifact bucket is made of, from ArtifactBucketArgs: every public-access block,
SSE-KMS with an S3 bucket key, lifecycle rules, and how the model servers reach it
(rclone's environment, or the federated identity of a hybrid's on-prem cluster)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.args import ArtifactBucketArgs
from components.kubernetes.weights_access import TOKEN_DIR

CHECKPOINTS_PREFIX = "checkpoints"
STS_AUDIENCE = "sts.amazonaws.com"
# An upload neither completed nor aborted keeps billing its parts until this.
ABORT_INCOMPLETE_UPLOAD_DAYS = 7


def public_access_block() -> dict[str, bool]:
    """Keyword arguments of aws.s3.BucketPublicAccessBlock: every block on."""
    return dict(
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )


def encryption_rules(
    key_arn: pulumi.Input[str],
) -> list[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs]:
    """SSE-KMS with the bucket's key, and an S3 bucket key so reads do not pay a KMS request
    each."""
    return [
        aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
                sse_algorithm="aws:kms", kms_master_key_id=key_arn
            ),
            bucket_key_enabled=True,
        )
    ]


def lifecycle_rules(args: ArtifactBucketArgs) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """Overwritten and deleted versions expire, as do checkpoints; weights stay."""
    s3 = aws.s3
    return [
        # Noncurrent versions only. Under models/ there are none: the weights sync never
        # overwrites a revision and the model publisher cannot delete, so every revision (the
        # serving one, and the previous_revision a rollback returns to) stays current for good.
        s3.BucketLifecycleConfigurationRuleArgs(
            id="expire-noncurrent-versions",
            status="Enabled",
            filter=s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            noncurrent_version_expiration=s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(  # noqa: E501
                noncurrent_days=args.noncurrent_version_days
            ),
            abort_incomplete_multipart_upload=s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(  # noqa: E501
                days_after_initiation=ABORT_INCOMPLETE_UPLOAD_DAYS
            ),
        ),
        s3.BucketLifecycleConfigurationRuleArgs(
            id="expire-checkpoints",
            status="Enabled",
            filter=s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=f"{CHECKPOINTS_PREFIX}/"),
            expiration=s3.BucketLifecycleConfigurationRuleExpirationArgs(
                days=args.checkpoint_days
            ),
        ),
    ]


def rclone_env(region: str) -> dict[str, str]:
    """The `artifacts` rclone remote: S3, with credentials from the pod's environment."""
    return {
        "RCLONE_CONFIG_ARTIFACTS_TYPE": "s3",
        "RCLONE_CONFIG_ARTIFACTS_PROVIDER": "AWS",
        "RCLONE_CONFIG_ARTIFACTS_ENV_AUTH": "true",
        "RCLONE_CONFIG_ARTIFACTS_REGION": region,
    }


def fsspec_env(region: str) -> dict[str, str]:
    """What s3fs needs beside the pod's credentials (Pod Identity's
    AWS_CONTAINER_CREDENTIALS_FULL_URI, or web_identity_env's role and token file: botocore
    credentials.py:2083, :1894-1896): the bucket's region. botocore reads AWS_DEFAULT_REGION,
    not AWS_REGION (botocore==1.43.117 botocore/configprovider.py:74; its one AWS_REGION read,
    :632, is only under AWS_EXECUTION_ENV, which AWS's own runtimes set)."""
    return {"AWS_DEFAULT_REGION": region}


def web_identity_env(
    role_arn: pulumi.Input[str], region: str, token_dir: str = TOKEN_DIR
) -> dict[str, Any]:
    """What the AWS SDK in a pod outside AWS needs to exchange its mounted service-account
    token for the role's credentials."""
    return {
        "AWS_ROLE_ARN": role_arn,
        "AWS_WEB_IDENTITY_TOKEN_FILE": f"{token_dir}/token",
        "AWS_REGION": region,
    }


# S3 server access logging delivers to a target bucket whose default encryption is SSE-S3
# only: "Default server-side encryption with AWS KMS keys (SSE-KMS) is not supported"
# (Amazon S3 User Guide, "Enabling Amazon S3 server access logging", awsdocs/
# amazon-s3-userguide doc_source/enable-server-access-logging.md).
ACCESS_LOG_SSE = "AES256"
# The log bucket's expected size, for the cost estimate: a record is a few hundred bytes
# (Amazon S3 server access log format), so ~20,000 requests a day (weight syncs and reads in
# multipart ranges, checkpoints, the database's WAL archive) kept a year is ~3.4 GiB.
ACCESS_LOG_EXPECTED_GIB = 5


def access_log_encryption_rules() -> list[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs]:
    """SSE-S3, the one default encryption a log delivery target may have (ACCESS_LOG_SSE)."""
    return [
        aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
                sse_algorithm=ACCESS_LOG_SSE
            ),
        )
    ]


def access_log_lifecycle_rules(
    args: ArtifactBucketArgs,
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """Access logs expire after args.access_log_days; an overwritten or deleted log object
    keeps its old version as long as the artifact bucket keeps its own. With Days on the
    current versions, S3 also removes the delete markers left once the old versions are gone
    (S3 User Guide, "Managing delete markers": lifecycle set to delete current versions)."""
    s3 = aws.s3
    return [
        s3.BucketLifecycleConfigurationRuleArgs(
            id="expire-access-logs",
            status="Enabled",
            filter=s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            expiration=s3.BucketLifecycleConfigurationRuleExpirationArgs(
                days=args.access_log_days
            ),
            noncurrent_version_expiration=s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(  # noqa: E501
                noncurrent_days=args.noncurrent_version_days
            ),
            abort_incomplete_multipart_upload=s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(  # noqa: E501
                days_after_initiation=ABORT_INCOMPLETE_UPLOAD_DAYS
            ),
        )
    ]
