"""ArtifactBucket: GCS for weights and checkpoints, and read access to `models/` only.

Uniform bucket-level access (no object ACLs), public access prevention enforced,
versioning with lifecycle rules. In GKE, model servers reach it through Workload Identity;
from the on-prem cluster of a hybrid, through Workload Identity Federation with the
cluster's own service-account issuer.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.gcp.args import ArtifactBucketArgs, OnPremFederation
from components.kubernetes.facts import WEIGHTS_READER, ArtifactStore, WorkloadIdentity
from components.kubernetes.weights_access import FILES_DIR, TOKEN_DIR

MODELS_PREFIX = "models"
CHECKPOINTS_PREFIX = "checkpoints"


def bucket(args: ArtifactBucketArgs) -> dict[str, Any]:
    """Private and versioned; old versions and old checkpoints expire."""
    delete = gcp.storage.BucketLifecycleRuleActionArgs(type="Delete")
    return dict(
        name=args.bucket_name,
        project=args.project,
        location=args.location,
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning=gcp.storage.BucketVersioningArgs(enabled=True),
        lifecycle_rules=[
            gcp.storage.BucketLifecycleRuleArgs(
                action=delete,
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                    days_since_noncurrent_time=args.noncurrent_version_days,
                    with_state="ARCHIVED",
                ),
            ),
            gcp.storage.BucketLifecycleRuleArgs(
                action=delete,
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                    age=args.checkpoint_days, matches_prefixes=[f"{CHECKPOINTS_PREFIX}/"]
                ),
            ),
        ],
        labels=args.labels,
        force_destroy=False,
    )


def models_only(bucket_name: str) -> gcp.storage.BucketIAMMemberConditionArgs:
    """Objects under models/ only; listing is checked on the bucket itself."""
    prefix = f"projects/_/buckets/{bucket_name}/objects/{MODELS_PREFIX}/"
    return gcp.storage.BucketIAMMemberConditionArgs(
        title="models-prefix-only",
        expression=(
            'resource.type == "storage.googleapis.com/Bucket" || '
            f'resource.name.startsWith("{prefix}")'
        ),
    )


def reader_subject(args: ArtifactBucketArgs) -> str:
    return f"system:serviceaccount:{args.namespace}:{WEIGHTS_READER}"


def federation_provider(fed: OnPremFederation, subject: str) -> dict[str, Any]:
    """An OIDC provider that admits tokens of the one reader service account."""
    return dict(
        workload_identity_pool_provider_id="onprem-cluster",
        attribute_mapping={"google.subject": "assertion.sub"},
        attribute_condition=f'assertion.sub == "{subject}"',
        oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(
            issuer_uri=fed.issuer, allowed_audiences=[fed.audience], jwks_json=fed.jwks_json
        ),
    )


def external_account(provider: str, reader_email: str) -> str:
    """The credential file the on-prem pod's SDK reads: exchange the mounted token at STS,
    then impersonate the reader."""
    return json.dumps(
        {
            "type": "external_account",
            "audience": f"//iam.googleapis.com/{provider}",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://sts.googleapis.com/v1/token",
            "service_account_impersonation_url": (
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
                f"{reader_email}:generateAccessToken"
            ),
            "credential_source": {"file": f"{TOKEN_DIR}/token"},
        },
        indent=2,
    )


def rclone_store(bucket_name: pulumi.Input[str]) -> ArtifactStore:
    return ArtifactStore(
        uri=pulumi.Output.concat("gs://", bucket_name),
        rclone_env={
            "RCLONE_CONFIG_ARTIFACTS_TYPE": "google cloud storage",
            "RCLONE_CONFIG_ARTIFACTS_ENV_AUTH": "true",
            "RCLONE_CONFIG_ARTIFACTS_BUCKET_POLICY_ONLY": "true",
        },
        models_path=pulumi.Output.concat("artifacts:", bucket_name, f"/{MODELS_PREFIX}"),
    )


class ArtifactBucket(pulumi.ComponentResource):
    store: ArtifactStore
    identity: WorkloadIdentity

    def __init__(
        self,
        name: str,
        args: ArtifactBucketArgs,
        workload_pool: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`workload_pool` is the GKE cluster's (Cluster.workload_pool); unused when the
        on-prem cluster is federated instead."""
        super().__init__("llm-platform:gcp:ArtifactBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        gcs = gcp.storage.Bucket(
            f"{name}-bucket",
            **bucket(args),
            # Weights and checkpoints outlive a stack: `pulumi destroy` must not delete them.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        reader = gcp.serviceaccount.Account(
            f"{name}-reader",
            account_id=args.reader_account_id,
            display_name=f"Reads models/ in {args.bucket_name}",
            opts=child,
        )
        gcp.storage.BucketIAMMember(
            f"{name}-reader",
            bucket=gcs.name,
            role="roles/storage.objectViewer",
            member=reader.email.apply(lambda e: f"serviceAccount:{e}"),
            condition=models_only(args.bucket_name),
            opts=child,
        )
        if args.federation is not None:
            self.identity = self._onprem(name, args.federation, reader_subject(args), reader)
        else:
            self.identity = self._gke(name, args, reader, workload_pool)
        self.store = rclone_store(gcs.name)
        self.register_outputs({"bucket": gcs.name})

    def _gke(
        self,
        name: str,
        args: ArtifactBucketArgs,
        reader: gcp.serviceaccount.Account,
        workload_pool: pulumi.Input[str],
    ) -> WorkloadIdentity:
        ksa = f"{args.namespace}/{WEIGHTS_READER}"
        gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            service_account_id=reader.name,
            role="roles/iam.workloadIdentityUser",
            # From the cluster's output, so the member is created after the cluster:
            # before it, IAM rejects the pool as not existing.
            member=pulumi.Output.from_input(workload_pool).apply(
                lambda pool: f"serviceAccount:{pool}[{ksa}]"
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return WorkloadIdentity(
            service_account_annotations={"iam.gke.io/gcp-service-account": reader.email}
        )

    def _onprem(
        self,
        name: str,
        fed: OnPremFederation,
        subject: str,
        reader: gcp.serviceaccount.Account,
    ) -> WorkloadIdentity:
        """A workload identity pool that trusts the on-prem issuer for one subject, which
        may impersonate the reader; the pod gets an external-account credential file."""
        child = pulumi.ResourceOptions(parent=self)
        pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-onprem",
            workload_identity_pool_id=fed.pool_id,
            display_name=fed.display_name,
            opts=child,
        )
        provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-onprem",
            workload_identity_pool_id=pool.workload_identity_pool_id,
            **federation_provider(fed, subject),
            opts=child,
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-onprem-impersonation",
            service_account_id=reader.name,
            role="roles/iam.workloadIdentityUser",
            member=pool.name.apply(
                lambda p: f"principal://iam.googleapis.com/{p}/subject/{subject}"
            ),
            opts=child,
        )
        credentials = pulumi.Output.all(provider.name, reader.email).apply(
            lambda a: external_account(a[0], a[1])
        )
        return WorkloadIdentity(
            env={"GOOGLE_APPLICATION_CREDENTIALS": f"{FILES_DIR}/credentials.json"},
            token_audience=fed.audience,
            files={"credentials.json": credentials},
        )
