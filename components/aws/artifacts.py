"""ArtifactBucket: S3 for weights and checkpoints, and least-privilege read access to it.

Versioned, SSE-KMS with a customer-managed key (and an S3 bucket key, so reads do not pay
a KMS request each), every public-access block on, ACLs disabled, TLS required, and
lifecycle rules that expire old versions and old checkpoints. Model servers read
`models/` only: in EKS through Pod Identity; from the on-prem cluster of a hybrid through
the cluster's own service-account tokens, trusted by an IAM OIDC provider. bucket.py and
iam_documents.py say what each piece is made of.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components import pricing
from components.aws import bucket as build
from components.aws import names
from components.aws.args import ArtifactBucketArgs
from components.aws.iam import pod_identity_role, rotated_key
from components.aws.iam_documents import (
    MODELS_PREFIX,
    read_models_policy,
    tls_only_bucket_policy,
    web_identity_trust,
)
from components.kubernetes.facts import WEIGHTS_READER, ArtifactStore, WorkloadIdentity
from components.naming import fit


class ArtifactBucket(pulumi.ComponentResource):
    store: ArtifactStore
    identity: WorkloadIdentity

    def __init__(
        self,
        name: str,
        args: ArtifactBucketArgs,
        cluster_name: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`cluster_name`: the EKS cluster whose pods read through Pod Identity, unless
        `args` federate the on-prem cluster instead."""
        super().__init__("llm-platform:aws:ArtifactBucket", name, None, opts)
        self._base, self._args = name, args
        key = rotated_key(
            f"{name}-key", f"SSE-KMS for {args.bucket_name}", args.tags, self._child
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            tags={**args.tags, pricing.EXPECTED_GIB_TAG: str(args.expected_gib)},
            # Weights and checkpoints outlive a stack: `pulumi destroy` must not empty them.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self._configure(bucket, key)
        read_models = pulumi.Output.all(bucket.arn, key.arn).apply(
            lambda a: json.dumps(read_models_policy(a[0], a[1]))
        )
        if args.onprem_oidc_issuer is None:
            self.identity = self._pod_identity(cluster_name, read_models)
        else:
            self.identity = self._onprem_federation(args.onprem_oidc_issuer, read_models)
        self.store = ArtifactStore(
            uri=pulumi.Output.concat("s3://", bucket.bucket),
            rclone_env=build.rclone_env(args.region),
            models_path=pulumi.Output.concat("artifacts:", bucket.bucket, f"/{MODELS_PREFIX}"),
        )
        self.register_outputs({"uri": self.store.uri})

    @property
    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _configure(self, bucket: aws.s3.Bucket, key: aws.kms.Key) -> None:
        """Private, owner-enforced, versioned, encrypted, expiring, and TLS only."""
        name, child = self._base, self._child
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access", bucket=bucket.id, **build.public_access_block(), opts=child
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
            f"{name}-sse", bucket=bucket.id, rules=build.encryption_rules(key.arn), opts=child
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=build.lifecycle_rules(self._args),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(tls_only_bucket_policy(arn))),
            opts=child,
        )

    def _pod_identity(
        self, cluster_name: pulumi.Input[str], read_models: pulumi.Output[str]
    ) -> WorkloadIdentity:
        name, args = f"{self._base}-reader", self._args
        role = pod_identity_role(name, read_models, args.tags, self._child)
        aws.eks.PodIdentityAssociation(
            name,
            cluster_name=cluster_name,
            namespace=args.namespace,
            service_account=WEIGHTS_READER,
            role_arn=role.arn,
            tags=args.tags,
            opts=self._child,
        )
        # The Pod Identity webhook injects the credentials; the pod needs nothing more.
        return WorkloadIdentity()

    def _onprem_federation(self, issuer: str, read_models: pulumi.Output[str]) -> WorkloadIdentity:
        """Trust the on-prem cluster's service-account issuer for exactly one subject, the
        weights reader, so no long-lived key ever leaves AWS."""
        name, args, child = self._base, self._args, self._child
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-onprem-oidc",
            url=issuer,
            client_id_lists=[build.STS_AUDIENCE],
            tags=args.tags,
            opts=child,
        )
        subject = f"system:serviceaccount:{args.namespace}:{WEIGHTS_READER}"
        trust = provider.arn.apply(
            lambda arn: json.dumps(web_identity_trust(arn, issuer, subject, build.STS_AUDIENCE))
        )
        role = aws.iam.Role(
            fit(f"{name}-onprem-reader", names.IAM_ROLE),
            assume_role_policy=trust,
            max_session_duration=3600,
            tags=args.tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            fit(f"{name}-onprem-reader", names.IAM_INLINE_POLICY),
            role=role.id,
            policy=read_models,
            opts=child,
        )
        return WorkloadIdentity(
            env=build.web_identity_env(role.arn, args.region), token_audience=build.STS_AUDIENCE
        )
