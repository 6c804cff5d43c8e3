"""ArtifactBucket: GCS for weights and checkpoints, and read access to `models/` only.

Uniform bucket-level access (no object ACLs), public access prevention enforced,
versioning with lifecycle rules. In GKE, model servers reach it through Workload Identity;
from the on-prem cluster of a hybrid, through Workload Identity Federation with the
cluster's own service-account issuer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components import pricing
from components.gcp import names
from components.gcp.cluster import labels
from components.kubernetes.facts import WEIGHTS_READER, ArtifactStore, WorkloadIdentity
from components.kubernetes.weights_access import FILES_DIR, TOKEN_DIR
from components.naming import fit
from components.spec import EnvironmentSpec

MODELS_PREFIX = "models"
CHECKPOINTS_PREFIX = "checkpoints"


@dataclass(frozen=True)
class ArtifactBucketArgs:
    spec: EnvironmentSpec
    bucket_name: str
    expected_gib: int
    federate_onprem: bool
    # The GKE cluster's workload pool (Cluster.workload_pool); unused for on-prem federation.
    workload_pool: pulumi.Input[str] | None = None


class ArtifactBucket(pulumi.ComponentResource):
    store: ArtifactStore
    identity: WorkloadIdentity

    def __init__(
        self, name: str, args: ArtifactBucketArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:gcp:ArtifactBucket", name, None, opts)
        spec = args.spec
        cfg = spec.gcp
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        art = spec.artifacts
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            name=args.bucket_name,
            project=cfg.project,
            location=cfg.region.upper(),
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            lifecycle_rules=[
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                        days_since_noncurrent_time=art.noncurrent_version_days,
                        with_state="ARCHIVED",
                    ),
                ),
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                        age=art.checkpoint_days, matches_prefixes=[f"{CHECKPOINTS_PREFIX}/"]
                    ),
                ),
            ],
            labels=labels(spec, **{pricing.EXPECTED_GIB_TAG: str(args.expected_gib)}),
            force_destroy=False,
            # Weights and checkpoints outlive a stack: `pulumi destroy` must not delete them.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        reader = gcp.serviceaccount.Account(
            f"{name}-reader",
            account_id=fit(f"llm-{spec.environment}-weights", names.SERVICE_ACCOUNT_ID),
            display_name=f"Reads models/ in {args.bucket_name}",
            opts=child,
        )
        prefix = f"projects/_/buckets/{args.bucket_name}/objects/{MODELS_PREFIX}/"
        gcp.storage.BucketIAMMember(
            f"{name}-reader",
            bucket=bucket.name,
            role="roles/storage.objectViewer",
            member=reader.email.apply(lambda e: f"serviceAccount:{e}"),
            # Objects under models/ only; listing is checked on the bucket itself.
            condition=gcp.storage.BucketIAMMemberConditionArgs(
                title="models-prefix-only",
                expression=(
                    'resource.type == "storage.googleapis.com/Bucket" || '
                    f'resource.name.startsWith("{prefix}")'
                ),
            ),
            opts=child,
        )
        subject = f"system:serviceaccount:{spec.namespace}:{WEIGHTS_READER}"
        if args.federate_onprem:
            self.identity = self._onprem_federation(name, spec, reader, subject, child)
        else:
            assert args.workload_pool is not None
            ksa = f"{spec.namespace}/{WEIGHTS_READER}"
            gcp.serviceaccount.IAMMember(
                f"{name}-workload-identity",
                service_account_id=reader.name,
                role="roles/iam.workloadIdentityUser",
                # From the cluster's output, so the member is created after the cluster:
                # before it, IAM rejects the pool as not existing.
                member=pulumi.Output.from_input(args.workload_pool).apply(
                    lambda pool: f"serviceAccount:{pool}[{ksa}]"
                ),
                opts=child,
            )
            self.identity = WorkloadIdentity(
                service_account_annotations={"iam.gke.io/gcp-service-account": reader.email}
            )
        self.store = ArtifactStore(
            uri=pulumi.Output.concat("gs://", bucket.name),
            rclone_env={
                "RCLONE_CONFIG_ARTIFACTS_TYPE": "google cloud storage",
                "RCLONE_CONFIG_ARTIFACTS_ENV_AUTH": "true",
                "RCLONE_CONFIG_ARTIFACTS_BUCKET_POLICY_ONLY": "true",
            },
            models_path=pulumi.Output.concat("artifacts:", bucket.name, f"/{MODELS_PREFIX}"),
        )
        self.register_outputs({"bucket": bucket.name})

    @staticmethod
    def _onprem_federation(name, spec, reader, subject, child) -> WorkloadIdentity:
        """A workload identity pool that trusts the on-prem issuer for one subject, which
        may impersonate the reader; the pod gets an external-account credential file."""
        hybrid = spec.hybrid
        audience = f"llm-platform-{spec.environment}"
        pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-onprem",
            workload_identity_pool_id=fit(
                f"llm-{spec.environment}-onprem", names.WORKLOAD_IDENTITY_POOL
            ),
            display_name=fit(f"on-prem {spec.environment}", names.WORKLOAD_IDENTITY_POOL_DISPLAY),
            opts=child,
        )
        provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-onprem",
            workload_identity_pool_id=pool.workload_identity_pool_id,
            workload_identity_pool_provider_id="onprem-cluster",
            attribute_mapping={"google.subject": "assertion.sub"},
            attribute_condition=f'assertion.sub == "{subject}"',
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(
                issuer_uri=hybrid.onprem_oidc_issuer,
                allowed_audiences=[audience],
                jwks_json=hybrid.onprem_jwks_json,
            ),
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
            lambda a: json.dumps(
                {
                    "type": "external_account",
                    "audience": f"//iam.googleapis.com/{a[0]}",
                    "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                    "token_url": "https://sts.googleapis.com/v1/token",
                    "service_account_impersonation_url": (
                        "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
                        f"{a[1]}:generateAccessToken"
                    ),
                    "credential_source": {"file": f"{TOKEN_DIR}/token"},
                },
                indent=2,
            )
        )
        return WorkloadIdentity(
            env={"GOOGLE_APPLICATION_CREDENTIALS": f"{FILES_DIR}/credentials.json"},
            token_audience=audience,
            files={"credentials.json": credentials},
        )
