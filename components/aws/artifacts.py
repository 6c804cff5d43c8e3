"""ArtifactBucket: S3 for weights and checkpoints, and least-privilege read access to it.

Versioned, SSE-KMS with a customer-managed key (and an S3 bucket key, so reads do not pay
a KMS request each), every public-access block on, ACLs disabled, TLS required, and
lifecycle rules that expire old versions and old checkpoints. Model servers read
`models/` only: in EKS through Pod Identity; from the on-prem cluster of a hybrid through
the cluster's own service-account tokens, trusted by an IAM OIDC provider.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming, pricing
from components.aws import names
from components.aws.iam import pod_identity_role, rotated_key
from components.kubernetes.facts import WEIGHTS_READER, ArtifactStore, WorkloadIdentity
from components.kubernetes.weights_access import TOKEN_DIR
from components.naming import fit
from components.spec import EnvironmentSpec

MODELS_PREFIX = "models"
CHECKPOINTS_PREFIX = "checkpoints"
STS_AUDIENCE = "sts.amazonaws.com"


@dataclass(frozen=True)
class ArtifactBucketArgs:
    spec: EnvironmentSpec
    bucket_name: str
    expected_gib: int
    # EKS cluster whose model servers read the bucket; None in a hybrid, where they run
    # on the on-prem cluster and federate its tokens instead.
    cluster_name: pulumi.Input[str] | None


class ArtifactBucket(pulumi.ComponentResource):
    store: ArtifactStore
    identity: WorkloadIdentity

    def __init__(
        self, name: str, args: ArtifactBucketArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:aws:ArtifactBucket", name, None, opts)
        spec = args.spec
        cfg = spec.aws
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        tags = naming.tags(spec)
        key = rotated_key(f"{name}-key", f"SSE-KMS for {args.bucket_name}", tags, child)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            tags={**tags, pricing.EXPECTED_GIB_TAG: str(args.expected_gib)},
            # Weights and checkpoints outlive a stack: `pulumi destroy` must not empty them.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        art = spec.artifacts
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(  # noqa: E501
                        noncurrent_days=art.noncurrent_version_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(  # noqa: E501
                        days_after_initiation=7
                    ),
                ),
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-checkpoints",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(
                        prefix=f"{CHECKPOINTS_PREFIX}/"
                    ),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=art.checkpoint_days
                    ),
                ),
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "DenyInsecureTransport",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": [arn, f"{arn}/*"],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )

        read_models = pulumi.Output.all(bucket.arn, key.arn).apply(
            lambda a: _read_models_policy(a[0], a[1])
        )
        if args.cluster_name is not None:
            role = pod_identity_role(f"{name}-reader", read_models, tags, child)
            aws.eks.PodIdentityAssociation(
                f"{name}-reader",
                cluster_name=args.cluster_name,
                namespace=spec.namespace,
                service_account=WEIGHTS_READER,
                role_arn=role.arn,
                tags=tags,
                opts=child,
            )
            # The Pod Identity webhook injects the credentials; the pod needs nothing more.
            self.identity = WorkloadIdentity()
        else:
            self.identity = self._onprem_federation(name, spec, read_models, tags, child)

        self.store = ArtifactStore(
            uri=pulumi.Output.concat("s3://", bucket.bucket),
            rclone_env={
                "RCLONE_CONFIG_ARTIFACTS_TYPE": "s3",
                "RCLONE_CONFIG_ARTIFACTS_PROVIDER": "AWS",
                "RCLONE_CONFIG_ARTIFACTS_ENV_AUTH": "true",
                "RCLONE_CONFIG_ARTIFACTS_REGION": cfg.region,
            },
            models_path=pulumi.Output.concat("artifacts:", bucket.bucket, f"/{MODELS_PREFIX}"),
        )
        self.register_outputs({"uri": self.store.uri})

    @staticmethod
    def _onprem_federation(name, spec, read_models, tags, child) -> WorkloadIdentity:
        """Trust the on-prem cluster's service-account issuer for exactly one subject, the
        weights reader, so no long-lived key ever leaves AWS."""
        hybrid = spec.hybrid
        issuer = hybrid.onprem_oidc_issuer
        host = issuer.removeprefix("https://")
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-onprem-oidc",
            url=issuer,
            client_id_lists=[STS_AUDIENCE],
            tags=tags,
            opts=child,
        )
        subject = f"system:serviceaccount:{spec.namespace}:{WEIGHTS_READER}"
        trust = provider.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Federated": arn},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {
                                "StringEquals": {
                                    f"{host}:sub": subject,
                                    f"{host}:aud": STS_AUDIENCE,
                                }
                            },
                        }
                    ],
                }
            )
        )
        role = aws.iam.Role(
            fit(f"{name}-onprem-reader", names.IAM_ROLE),
            assume_role_policy=trust,
            max_session_duration=3600,
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            fit(f"{name}-onprem-reader", names.IAM_INLINE_POLICY),
            role=role.id,
            policy=read_models,
            opts=child,
        )
        return WorkloadIdentity(
            env={
                "AWS_ROLE_ARN": role.arn,
                "AWS_WEB_IDENTITY_TOKEN_FILE": f"{TOKEN_DIR}/token",
                "AWS_REGION": spec.aws.region,
            },
            token_audience=STS_AUDIENCE,
        )


def _read_models_policy(bucket_arn: str, key_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLike": {"s3:prefix": [f"{MODELS_PREFIX}/*"]}},
                },
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"{bucket_arn}/{MODELS_PREFIX}/*",
                },
                {
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": key_arn,
                    "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
                },
            ],
        }
    )
