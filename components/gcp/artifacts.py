"""ArtifactBucket: GCS for weights and checkpoints, and read access to `models/` only.

Uniform bucket-level access (no object ACLs), public access prevention enforced,
versioning with lifecycle rules, and usage logs in a bucket of their own. In GKE, model
servers reach it through Workload Identity; from the on-prem cluster of a hybrid, through
Workload Identity Federation with the cluster's own service-account issuer. The gateway's
database, where the spec runs one in the cluster, writes its backups under `gateway-db/`
only, as a second account bound to the database's own service account, by the same two
routes.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components import pricing
from components.gcp import names
from components.gcp.args import ArtifactBucketArgs, OnPremFederation
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
from components.kubernetes.weights_access import FILES_DIR, TOKEN_DIR
from components.naming import fit
from components.training.contract import CHECKPOINTS_PREFIX

# Cloud Storage writes usage (hourly) and storage (daily) logs as this Google group, which
# needs only to create objects in the log bucket: the grant googleapis/nodejs-storage
# Bucket.enableLogging makes (cloud.google.com/storage/docs/access-logs, "Set up log delivery").
LOG_WRITER = "group:cloud-storage-analytics@google.com"
LOG_WRITER_ROLE = "roles/storage.objectCreator"
# How long access logs are kept, and how long a deleted or replaced log object survives as a
# noncurrent version (so a delete by a compromised account is recoverable for a week).
ACCESS_LOG_DAYS = 90
DELETED_LOG_DAYS = 7
# What the cost model prices the log bucket at: a usage-log row per request to the artifacts
# bucket (syncs, model loads, checkpoints, WAL archiving: on the order of 1e5 a month, well
# under a KB each) kept ACCESS_LOG_DAYS stays far below 1 GiB.
ACCESS_LOG_GIB = 1


def log_bucket_name(bucket_name: str) -> str:
    """The artifacts bucket's log bucket: its name and "-logs", fitted to GCS's rule."""
    return fit(f"{bucket_name}-logs", names.GCS_BUCKET)


def bucket(args: ArtifactBucketArgs) -> dict[str, Any]:
    """Private and versioned; old versions and old checkpoints expire; every request is
    logged to the log bucket (log_bucket), named here as the plain string it is, so the
    plan shows it (the component orders the two buckets)."""
    delete = gcp.storage.BucketLifecycleRuleActionArgs(type="Delete")
    return dict(
        **_private(args, args.bucket_name),
        lifecycle_rules=[
            # Noncurrent (ARCHIVED) versions only. Under models/ there are none: the weights
            # sync never overwrites a revision and the model publisher cannot replace or delete
            # one (PUBLISHER_ROLES), so every revision (the serving one, and the
            # previous_revision a rollback returns to) stays live for good.
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
        logging=gcp.storage.BucketLoggingArgs(log_bucket=log_bucket_name(args.bucket_name)),
        labels=args.labels,
        force_destroy=False,
    )


def _private(args: ArtifactBucketArgs, name: str) -> dict[str, Any]:
    """What both buckets are: uniform access only, never public, versioned, in one location."""
    return dict(
        name=name,
        project=args.project,
        location=args.location,
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning=gcp.storage.BucketVersioningArgs(enabled=True),
    )


def log_bucket(args: ArtifactBucketArgs) -> dict[str, Any]:
    """Where the artifacts bucket's access logs go: private like it, in the same location,
    versioned so a deleted log survives DELETED_LOG_DAYS, logs expiring after ACCESS_LOG_DAYS."""
    delete = gcp.storage.BucketLifecycleRuleActionArgs(type="Delete")
    return dict(
        **_private(args, log_bucket_name(args.bucket_name)),
        lifecycle_rules=[
            gcp.storage.BucketLifecycleRuleArgs(
                action=delete,
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=ACCESS_LOG_DAYS),
            ),
            gcp.storage.BucketLifecycleRuleArgs(
                action=delete,
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                    days_since_noncurrent_time=DELETED_LOG_DAYS, with_state="ARCHIVED"
                ),
            ),
        ],
        labels={**args.labels, pricing.EXPECTED_GIB_TAG: str(ACCESS_LOG_GIB)},
        force_destroy=False,
    )


def models_only(bucket_name: str) -> gcp.storage.BucketIAMMemberConditionArgs:
    return prefix_only(bucket_name, MODELS_PREFIX)


def prefix_only(bucket_name: str, *folders: str) -> gcp.storage.BucketIAMMemberConditionArgs:
    """Objects under one of `folders`/ only; listing is checked on the bucket itself."""
    objects = f"projects/_/buckets/{bucket_name}/objects"
    return gcp.storage.BucketIAMMemberConditionArgs(
        title=f"{'-'.join(folders)}-prefix-only",
        expression=" || ".join(
            [
                'resource.type == "storage.googleapis.com/Bucket"',
                *(f'resource.name.startsWith("{objects}/{folder}/")' for folder in folders),
            ]
        ),
    )


def reader_subject(args: ArtifactBucketArgs, service_account: str = WEIGHTS_READER) -> str:
    return f"system:serviceaccount:{args.namespace}:{service_account}"


# The backup writer, as barman-cloud uses GCS (EnterpriseDB/barman
# barman/cloud_providers/google_cloud_storage.py@00478a31): bucket.exists() before anything
# (storage.buckets.get), list_blobs, blob upload, download and delete for the retention policy
# (storage.objects.list/create/get/delete). roles/storage.objectAdmin grants storage.objects.*
# and roles/storage.legacyBucketReader storage.buckets.get and storage.objects.list
# (google-cloud-storage StorageRoles, cloud.google.com/java/docs/reference/google-cloud-storage
# /latest/com.google.cloud.storage.StorageRoles); the first is held to gateway-db/ by the same
# condition as the reader's. With uniform bucket-level access, objectAdmin's object ACL
# permissions grant nothing.
BACKUP_OBJECTS_ROLE = "roles/storage.objectAdmin"
BACKUP_BUCKET_ROLE = "roles/storage.legacyBucketReader"
# The model publisher, as gcsfs uses GCS (gcsfs==2026.10.1 gcsfs/core.py): objects.get with a
# listing fallback (:733-747), listings (:1014), uploads (:3030, :3105: storage.objects.create);
# buckets.get only for the bucket root (:1202), which our tools never ask about. Storage Object
# Viewer reads and lists; Storage Object Creator creates and "does not give permission to
# view, delete, or replace objects" (cloud.google.com/iam/docs/roles-permissions/storage):
# replacing an object needs storage.objects.delete too (cloud.google.com/storage/docs/
# access-control/iam-permissions), so GCS itself refuses the publisher an overwrite.
PUBLISHER_ROLES = {"viewer": "roles/storage.objectViewer", "creator": "roles/storage.objectCreator"}


def trainer_grants(bucket_name: str, job: str, model: str) -> dict[str, tuple[str, Any]]:
    """A training job's account, as gcsfs uses GCS (the calls PUBLISHER_ROLES lists, and
    deletes for checkpoint retention): Storage Object Viewer on models/ (a base we published)
    and its own checkpoints/<job>/; Storage Object Creator on models/<model>/ only, so GCS
    refuses it a replace or a delete of a revision; and, as BACKUP_OBJECTS_ROLE gives the
    backup writer, Storage Object Admin on checkpoints/<job>/ only, where the harness deletes
    old checkpoints (keep_checkpoints) and rewrites the run's state.json. Nothing under
    another job's checkpoints, another model, evals/ or gateway-db/."""
    checkpoints, output = f"{CHECKPOINTS_PREFIX}/{job}", f"{MODELS_PREFIX}/{model}"
    return {
        "viewer": (PUBLISHER_ROLES["viewer"], prefix_only(bucket_name, MODELS_PREFIX, checkpoints)),
        "creator": (PUBLISHER_ROLES["creator"], prefix_only(bucket_name, output)),
        "checkpoints": (BACKUP_OBJECTS_ROLE, prefix_only(bucket_name, checkpoints)),
    }


def federation_provider(
    fed: OnPremFederation, subject: str, provider_id: str = "onprem-cluster"
) -> dict[str, Any]:
    """An OIDC provider that admits tokens of one service account."""
    return dict(
        workload_identity_pool_provider_id=provider_id,
        attribute_mapping={"google.subject": "assertion.sub"},
        attribute_condition=f'assertion.sub == "{subject}"',
        oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(
            issuer_uri=fed.issuer, allowed_audiences=[fed.audience], jwks_json=fed.jwks_json
        ),
    )


def external_account(provider: str, reader_email: str, token_dir: str = TOKEN_DIR) -> str:
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
            "credential_source": {"file": f"{token_dir}/token"},
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
        # gcsfs finds the pod's credentials itself (google.auth.default: GKE's metadata server,
        # or GOOGLE_APPLICATION_CREDENTIALS of a federated identity; gcsfs==2026.10.1
        # gcsfs/credentials.py:122-125), so it needs no environment of its own.
        fsspec_uri=pulumi.Output.concat("gs://", bucket_name),
    )


class ArtifactBucket(pulumi.ComponentResource):
    store: ArtifactStore
    identity: WorkloadIdentity
    # The database backup writer's, where args.backup_account_id is set.
    backup_identity: WorkloadIdentity | None
    # The model publisher's (models/ and evals/, never a delete), where
    # args.publisher_account_id is set.
    publisher_identity: WorkloadIdentity | None
    # Per training job (args.trainers): checkpoints/<job>/ and models/<model>/, bound to
    # TRAINER_PREFIX<job> in the GKE cluster, where training runs in a hybrid too.
    trainer_identities: dict[str, WorkloadIdentity]

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
        logs = self._log_bucket(name, args)
        gcs = gcp.storage.Bucket(
            f"{name}-bucket",
            **bucket(args),
            # Weights and checkpoints outlive a stack: `pulumi destroy` must not delete them.
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=logs),
        )
        reader = self._reader(name, args, gcs)
        self._base, self._args, self._workload_pool = name, args, workload_pool
        self._pool = None if args.federation is None else self._onprem_pool(name, args.federation)
        self.identity = self._bind("", reader, WEIGHTS_READER)
        self.backup_identity = (
            None
            if args.backup_account_id is None
            else self._bind(
                "backup",
                self._writer(name, args, gcs),
                GATEWAY_DB,
                "onprem-gateway-db",
                (DATABASE_CREDENTIALS_DIR, DATABASE_CREDENTIALS_DIR),
            )
        )
        self.publisher_identity = (
            None
            if args.publisher_account_id is None
            else self._bind(
                "publisher",
                self._publisher(name, args, gcs, args.publisher_account_id),
                MODEL_PUBLISHER,
                "onprem-model-publisher",
            )
        )
        self.trainer_identities = {
            job: self._gke(
                f"{name}-train-{job}", args,
                self._trainer(name, args, gcs, (job, model, account_id)),
                workload_pool, f"{TRAINER_PREFIX}{job}",
            )
            for job, model, account_id in args.trainers
        }
        self.store = rclone_store(gcs.name)
        self.register_outputs({"bucket": gcs.name})

    def _log_bucket(self, name: str, args: ArtifactBucketArgs) -> list[pulumi.Resource]:
        """The log bucket and Cloud Storage's write grant on it, both made before the
        artifacts bucket names it."""
        child = pulumi.ResourceOptions(parent=self)
        logs = gcp.storage.Bucket(f"{name}-logs", **log_bucket(args), opts=child)
        writer = gcp.storage.BucketIAMMember(
            f"{name}-logs-writer",
            bucket=logs.name,
            role=LOG_WRITER_ROLE,
            member=LOG_WRITER,
            opts=child,
        )
        return [logs, writer]

    def _reader(
        self, name: str, args: ArtifactBucketArgs, gcs: gcp.storage.Bucket
    ) -> gcp.serviceaccount.Account:
        """The account the model servers read models/ as, and nothing else."""
        child = pulumi.ResourceOptions(parent=self)
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
        return reader

    def _writer(
        self, name: str, args: ArtifactBucketArgs, gcs: gcp.storage.Bucket
    ) -> gcp.serviceaccount.Account:
        """The account that writes the database's backups under gateway-db/ only."""
        child = pulumi.ResourceOptions(parent=self)
        writer = gcp.serviceaccount.Account(
            f"{name}-backup",
            account_id=args.backup_account_id,
            display_name=f"Writes {DATABASE_BACKUP_PREFIX}/ in {args.bucket_name}",
            opts=child,
        )
        member = writer.email.apply(lambda e: f"serviceAccount:{e}")
        gcp.storage.BucketIAMMember(
            f"{name}-backup-objects",
            bucket=gcs.name,
            role=BACKUP_OBJECTS_ROLE,
            member=member,
            condition=prefix_only(args.bucket_name, DATABASE_BACKUP_PREFIX),
            opts=child,
        )
        gcp.storage.BucketIAMMember(
            f"{name}-backup-bucket",
            bucket=gcs.name,
            role=BACKUP_BUCKET_ROLE,
            member=member,
            opts=child,
        )
        return writer

    def _publisher(
        self, name: str, args: ArtifactBucketArgs, gcs: gcp.storage.Bucket, account_id: str
    ) -> gcp.serviceaccount.Account:
        """The account that reads and adds to models/ and evals/, and may delete nothing."""
        child = pulumi.ResourceOptions(parent=self)
        publisher = gcp.serviceaccount.Account(
            f"{name}-publisher",
            account_id=account_id,
            display_name=f"Publishes {MODELS_PREFIX}/ and {EVALS_PREFIX}/ in {args.bucket_name}",
            opts=child,
        )
        for grant, role in PUBLISHER_ROLES.items():
            gcp.storage.BucketIAMMember(
                f"{name}-publisher-{grant}",
                bucket=gcs.name,
                role=role,
                member=publisher.email.apply(lambda e: f"serviceAccount:{e}"),
                condition=prefix_only(args.bucket_name, MODELS_PREFIX, EVALS_PREFIX),
                opts=child,
            )
        return publisher

    def _trainer(
        self,
        name: str,
        args: ArtifactBucketArgs,
        gcs: gcp.storage.Bucket,
        trainer: tuple[str, str, str],
    ) -> gcp.serviceaccount.Account:
        """A training job's account with trainer_grants on the bucket."""
        job, model, account_id = trainer
        child = pulumi.ResourceOptions(parent=self)
        account = gcp.serviceaccount.Account(
            f"{name}-train-{job}",
            account_id=account_id,
            # At most 100 characters: the job's name is at most 40.
            display_name=f"Training job {job}",
            opts=child,
        )
        for grant, (role, condition) in trainer_grants(args.bucket_name, job, model).items():
            gcp.storage.BucketIAMMember(
                f"{name}-train-{job}-{grant}",
                bucket=gcs.name,
                role=role,
                member=account.email.apply(lambda e: f"serviceAccount:{e}"),
                condition=condition,
                opts=child,
            )
        return account

    def _bind(
        self,
        role: str,
        account: gcp.serviceaccount.Account,
        service_account: str,
        provider_id: str = "onprem-cluster",
        dirs: tuple[str, str] = (TOKEN_DIR, FILES_DIR),
    ) -> WorkloadIdentity:
        """`account` for `service_account`: by Workload Identity in GKE or, in a hybrid,
        through a provider of the on-prem pool trusting that one subject (see _onprem)."""
        name, args = self._base, self._args
        suffix = f"-{role}" if role else ""
        if args.federation is None or self._pool is None:
            return self._gke(f"{name}{suffix}", args, account, self._workload_pool, service_account)
        subject = reader_subject(args, service_account)
        return self._onprem(
            f"{name}-onprem{suffix}", args.federation, self._pool, subject, account, provider_id,
            dirs,
        )

    def _gke(
        self,
        name: str,
        args: ArtifactBucketArgs,
        account: gcp.serviceaccount.Account,
        workload_pool: pulumi.Input[str],
        service_account: str = WEIGHTS_READER,
    ) -> WorkloadIdentity:
        ksa = f"{args.namespace}/{service_account}"
        gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            # From the cluster's output, so the member is created after the cluster:
            # before it, IAM rejects the pool as not existing.
            member=pulumi.Output.from_input(workload_pool).apply(
                lambda pool: f"serviceAccount:{pool}[{ksa}]"
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return WorkloadIdentity(
            service_account_annotations={"iam.gke.io/gcp-service-account": account.email}
        )

    def _onprem_pool(self, name: str, fed: OnPremFederation) -> gcp.iam.WorkloadIdentityPool:
        return gcp.iam.WorkloadIdentityPool(
            f"{name}-onprem",
            workload_identity_pool_id=fed.pool_id,
            display_name=fed.display_name,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _onprem(
        self,
        name: str,
        fed: OnPremFederation,
        pool: gcp.iam.WorkloadIdentityPool,
        subject: str,
        account: gcp.serviceaccount.Account,
        provider_id: str = "onprem-cluster",
        dirs: tuple[str, str] = (TOKEN_DIR, FILES_DIR),
    ) -> WorkloadIdentity:
        """A provider in the pool that trusts the on-prem issuer for one subject, which may
        impersonate `account`; the pod gets an external-account credential file. `dirs`: where
        the pod mounts its token and that file (the database: CloudNativePG's projected
        volume, DATABASE_CREDENTIALS_DIR)."""
        child = pulumi.ResourceOptions(parent=self)
        provider = gcp.iam.WorkloadIdentityPoolProvider(
            name,
            workload_identity_pool_id=pool.workload_identity_pool_id,
            **federation_provider(fed, subject, provider_id),
            opts=child,
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-impersonation",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=pool.name.apply(
                lambda p: f"principal://iam.googleapis.com/{p}/subject/{subject}"
            ),
            opts=child,
        )
        token_dir, files_dir = dirs
        credentials = pulumi.Output.all(provider.name, account.email).apply(
            lambda a: external_account(a[0], a[1], token_dir)
        )
        return WorkloadIdentity(
            env={"GOOGLE_APPLICATION_CREDENTIALS": f"{files_dir}/credentials.json"},
            token_audience=fed.audience,
            files={"credentials.json": credentials},
        )
