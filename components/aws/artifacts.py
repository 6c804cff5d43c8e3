"""ArtifactBucket: S3 for weights and checkpoints, and least-privilege read access to it.

Versioned, SSE-KMS with a customer-managed key (and an S3 bucket key, so reads do not pay
a KMS request each), every public-access block on, ACLs disabled, TLS required, and
lifecycle rules that expire old versions and old checkpoints; S3 server access logs go to
a second bucket, guarded alike but with SSE-S3 (all a log target takes). Model servers read
`models/` only: in EKS through Pod Identity; from the on-prem cluster of a hybrid through
the cluster's own service-account tokens, trusted by an IAM OIDC provider. The gateway's
database, where the spec has one in the cluster, writes its backups under `gateway-db/`
only, as its own service account, by the same two routes. bucket.py and iam_documents.py
say what each piece is made of.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pulumi_aws as aws

from components import pricing
from components.aws import bucket as build
from components.aws import names
from components.aws.args import ArtifactBucketArgs
from components.aws.iam import pod_identity_role, rotated_key
from components.aws.iam_documents import (
    ACCESS_LOG_PREFIX,
    Document,
    access_log_bucket_policy,
    key_policy,
    publish_models_policy,
    read_models_policy,
    tls_only_bucket_policy,
    train_policy,
    web_identity_trust,
    write_backups_policy,
)
from components.kubernetes.facts import (
    DATABASE_BACKUP_PREFIX,
    DATABASE_CREDENTIALS_DIR,
    EVALS_PREFIX,
    GATEWAY_DB,
    MODEL_PUBLISHER,
    MODELS_PREFIX,
    TRAINER_PREFIX,
    WEIGHTS_READER,
    ArtifactStore,
    WorkloadIdentity,
)
from components.kubernetes.weights_access import TOKEN_DIR
from components.naming import fit

# Where the model publisher may read and write, and nothing else.
PUBLISHED_PREFIXES = [MODELS_PREFIX, EVALS_PREFIX]


class ArtifactBucket(pulumi.ComponentResource):
    store: ArtifactStore
    identity: WorkloadIdentity
    # The database backup writer's, where args.database_backups.
    backup_identity: WorkloadIdentity | None
    # The model publisher's (models/ and evals/, never a delete), where args.model_publisher.
    publisher_identity: WorkloadIdentity | None
    # Per training job (args.trainers): checkpoints/<job>/ and models/<model>/, bound to
    # TRAINER_PREFIX<job> in the EKS cluster, where training runs in a hybrid too.
    trainer_identities: dict[str, WorkloadIdentity]

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
        # S3 uses the key as the caller: the account's IAM policies (read_models_policy,
        # write_backups_policy) say who, so no service is named in the key's policy.
        key = rotated_key(
            f"{name}-key",
            f"SSE-KMS for {args.bucket_name}",
            args.tags,
            self._child,
            policy=key_policy(args.account_id),
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            tags={**args.tags, pricing.EXPECTED_GIB_TAG: str(args.expected_gib)},
            # Weights and checkpoints outlive a stack: `pulumi destroy` must not empty them.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self._configure(bucket, key)
        self._access_logs(bucket)
        issuer = args.onprem_oidc_issuer
        self._provider = None if issuer is None else self._onprem_provider(issuer)
        self.identity = self._bind(cluster_name, self._policy(bucket, key, read_models_policy))
        self.backup_identity, self.publisher_identity = self._writers(cluster_name, bucket, key)
        self.trainer_identities = {
            job: self._pod_identity(
                cluster_name,
                self._policy(bucket, key, lambda b, k, j=job, m=model: train_policy(b, k, j, m)),
                f"train-{job}",
                f"{TRAINER_PREFIX}{job}",
            )
            for job, model in args.trainers
        }
        self.store = ArtifactStore(
            uri=pulumi.Output.concat("s3://", bucket.bucket),
            rclone_env=build.rclone_env(args.region),
            models_path=pulumi.Output.concat("artifacts:", bucket.bucket, f"/{MODELS_PREFIX}"),
            fsspec_uri=pulumi.Output.concat("s3://", bucket.bucket),
            fsspec_env=build.fsspec_env(args.region),
        )
        self.register_outputs({"uri": self.store.uri})

    def _writers(
        self, cluster_name: pulumi.Input[str], bucket: aws.s3.Bucket, key: aws.kms.Key
    ) -> tuple[WorkloadIdentity | None, WorkloadIdentity | None]:
        """The database backup writer (gateway-db/, as the database's service account) and the
        model publisher (models/ and evals/, no delete), each where `args` asks for it."""
        args = self._args
        backups = self._policy(
            bucket, key, lambda b, k: write_backups_policy(b, k, DATABASE_BACKUP_PREFIX)
        )
        publish = self._policy(
            bucket, key, lambda b, k: publish_models_policy(b, k, PUBLISHED_PREFIXES)
        )
        return (
            self._bind(cluster_name, backups, "backup", GATEWAY_DB, DATABASE_CREDENTIALS_DIR)
            if args.database_backups
            else None,
            self._bind(cluster_name, publish, "publisher", MODEL_PUBLISHER)
            if args.model_publisher
            else None,
        )

    @staticmethod
    def _policy(
        bucket: aws.s3.Bucket, key: aws.kms.Key, document: Callable[[str, str], Document]
    ) -> pulumi.Output[str]:
        """`document` of the bucket's and the key's ARNs, as JSON."""
        return pulumi.Output.all(bucket.arn, key.arn).apply(
            lambda a: json.dumps(document(a[0], a[1]))
        )

    @property
    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _configure(self, bucket: aws.s3.Bucket, key: aws.kms.Key) -> None:
        """Private, owner-enforced, versioned, encrypted with the key, expiring, TLS only."""
        policy = bucket.arn.apply(lambda arn: json.dumps(tls_only_bucket_policy(arn)))
        self._guard(
            self._base, bucket, build.encryption_rules(key.arn), build.lifecycle_rules(self._args),
            f"{self._base}-tls-only", policy,
        )

    def _access_logs(self, bucket: aws.s3.Bucket) -> None:
        """S3 server access logs of `bucket` (Checkov CKV_AWS_18), in a second bucket guarded
        like it, except for SSE-S3 (the only default encryption a log target may have:
        bucket.ACCESS_LOG_SSE) and records that expire after args.access_log_days."""
        args, name = self._args, f"{self._base}-access-logs"
        logs = aws.s3.Bucket(
            name,
            bucket=args.access_log_bucket_name,
            tags={**args.tags, pricing.EXPECTED_GIB_TAG: str(build.ACCESS_LOG_EXPECTED_GIB)},
            # The request record outlives a stack like the data it describes.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        policy = pulumi.Output.all(logs.arn, bucket.arn).apply(
            lambda a: json.dumps(access_log_bucket_policy(a[0], a[1], args.account_id))
        )
        delivery = self._guard(
            name, logs, build.access_log_encryption_rules(),
            build.access_log_lifecycle_rules(args), f"{name}-policy", policy,
        )
        # Delivery starts once logging is on: the policy that lets S3 write goes first.
        aws.s3.BucketLogging(
            f"{self._base}-logging",
            bucket=bucket.id,
            target_bucket=logs.id,
            target_prefix=ACCESS_LOG_PREFIX,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]),
        )

    def _guard(
        self,
        name: str,
        bucket: aws.s3.Bucket,
        encryption: list[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs],
        lifecycle: list[aws.s3.BucketLifecycleConfigurationRuleArgs],
        policy_name: str,
        policy: pulumi.Output[str],
    ) -> aws.s3.BucketPolicy:
        """Every public-access block, ACLs disabled, versioning, `encryption`, `lifecycle`
        and `policy` on `bucket`; the policy resource, for what must wait for it."""
        child = self._child
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
            f"{name}-sse", bucket=bucket.id, rules=encryption, opts=child
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=bucket.id, rules=lifecycle, opts=child
        )
        return aws.s3.BucketPolicy(policy_name, bucket=bucket.id, policy=policy, opts=child)

    def _bind(
        self,
        cluster_name: pulumi.Input[str],
        policy: pulumi.Output[str],
        role: str = "reader",
        service_account: str = WEIGHTS_READER,
        token_dir: str = TOKEN_DIR,
    ) -> WorkloadIdentity:
        """A role with `policy` for `service_account`: by Pod Identity in EKS, or trusting the
        on-prem issuer for that one subject in a hybrid (the pod mounts its token in
        `token_dir`)."""
        issuer = self._args.onprem_oidc_issuer
        if issuer is None or self._provider is None:
            return self._pod_identity(cluster_name, policy, role, service_account)
        return self._onprem_federation(
            issuer, self._provider, policy, role, service_account, token_dir
        )

    def _pod_identity(
        self,
        cluster_name: pulumi.Input[str],
        policy: pulumi.Output[str],
        role: str = "reader",
        service_account: str = WEIGHTS_READER,
    ) -> WorkloadIdentity:
        name, args = f"{self._base}-{role}", self._args
        iam_role = pod_identity_role(name, policy, args.tags, self._child)
        aws.eks.PodIdentityAssociation(
            name,
            cluster_name=cluster_name,
            namespace=args.namespace,
            service_account=service_account,
            role_arn=iam_role.arn,
            tags=args.tags,
            opts=self._child,
        )
        # The Pod Identity webhook injects the credentials; the pod needs nothing more.
        return WorkloadIdentity()

    def _onprem_provider(self, issuer: str) -> aws.iam.OpenIdConnectProvider:
        """The on-prem cluster's service-account issuer, as IAM knows it (one per issuer)."""
        return aws.iam.OpenIdConnectProvider(
            f"{self._base}-onprem-oidc",
            url=issuer,
            client_id_lists=[build.STS_AUDIENCE],
            tags=self._args.tags,
            opts=self._child,
        )

    def _onprem_federation(
        self,
        issuer: str,
        provider: aws.iam.OpenIdConnectProvider,
        policy: pulumi.Output[str],
        role: str = "reader",
        service_account: str = WEIGHTS_READER,
        token_dir: str = TOKEN_DIR,
    ) -> WorkloadIdentity:
        """Trust the on-prem cluster's issuer for exactly one subject, `service_account`, so
        no long-lived key ever leaves AWS. `token_dir`: where the pod mounts its token."""
        name, args, child = self._base, self._args, self._child
        subject = f"system:serviceaccount:{args.namespace}:{service_account}"
        trust = provider.arn.apply(
            lambda arn: json.dumps(web_identity_trust(arn, issuer, subject, build.STS_AUDIENCE))
        )
        iam_role = aws.iam.Role(
            fit(f"{name}-onprem-{role}", names.IAM_ROLE),
            assume_role_policy=trust,
            max_session_duration=3600,
            tags=args.tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            fit(f"{name}-onprem-{role}", names.IAM_INLINE_POLICY),
            role=iam_role.id,
            policy=policy,
            opts=child,
        )
        return WorkloadIdentity(
            env=build.web_identity_env(iam_role.arn, args.region, token_dir),
            token_audience=build.STS_AUDIENCE,
        )
