"""ArtifactBucket: a storage account and private container for weights and checkpoints,
and read access to `models/` only.

No anonymous blob access, TLS 1.2 minimum, HTTPS only, shared keys disabled (Entra ID
only), the network closed except the node subnet, blob versioning with lifecycle rules.
Model servers read through Workload Identity: a user-assigned identity trusting the
cluster's OIDC issuer (or, in a hybrid, the on-prem cluster's). The gateway's database, where
the spec runs one in the cluster, writes its backups under `gateway-db/` only, as a second
identity trusting the database's own service account the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure

from components import pricing
from components.azure import ids, names
from components.azure.args import ArtifactBucketArgs
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
from components.training.contract import CHECKPOINTS_PREFIX

CONTAINER = "artifacts"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
storage = azure.storage


def storage_account(
    args: ArtifactBucketArgs, resource_group: pulumi.Input[str], node_subnet_id: pulumi.Input[str]
) -> dict[str, Any]:
    """Private: no anonymous or shared-key access, TLS 1.2 over HTTPS, and reachable from
    the node subnet (and Azure's own services) only."""
    return dict(
        account_name=args.account_name,
        resource_group_name=resource_group,
        location=args.location,
        kind="StorageV2",
        sku=storage.SkuArgs(name="Standard_LRS"),
        access_tier="Hot",
        allow_blob_public_access=False,
        allow_shared_key_access=False,
        default_to_o_auth_authentication=True,
        enable_https_traffic_only=True,
        minimum_tls_version="TLS1_2",
        allow_cross_tenant_replication=False,
        network_rule_set=storage.NetworkRuleSetArgs(
            default_action="Deny",
            bypass="AzureServices",
            virtual_network_rules=[
                storage.VirtualNetworkRuleArgs(virtual_network_resource_id=node_subnet_id)
            ],
        ),
        tags={**args.tags, pricing.EXPECTED_GIB_TAG: str(args.expected_gib)},
    )


def lifecycle(args: ArtifactBucketArgs) -> storage.ManagementPolicySchemaArgs:
    """Old blob versions and old checkpoints are deleted."""
    return storage.ManagementPolicySchemaArgs(
        rules=[
            # Previous versions only (`version`, never `base_blob`). Under models/ there are
            # none: the weights sync never overwrites a revision and the model publisher cannot
            # delete one, so every revision (the serving one, and the previous_revision a
            # rollback returns to) stays the current blob for good.
            _rule(
                "expire-old-versions",
                [f"{CONTAINER}/"],
                version=storage.ManagementPolicyVersionArgs(
                    delete=storage.DateAfterCreationArgs(
                        days_after_creation_greater_than=args.noncurrent_version_days
                    )
                ),
            ),
            _rule(
                "expire-checkpoints",
                [f"{CONTAINER}/{CHECKPOINTS_PREFIX}/"],
                base_blob=storage.ManagementPolicyBaseBlobArgs(
                    delete=storage.DateAfterModificationArgs(
                        days_after_modification_greater_than=args.checkpoint_days
                    )
                ),
            ),
        ]
    )


def _rule(name: str, prefixes: list[str], **actions: Any) -> storage.ManagementPolicyRuleArgs:
    return storage.ManagementPolicyRuleArgs(
        name=name,
        enabled=True,
        type="Lifecycle",
        definition=storage.ManagementPolicyDefinitionArgs(
            filters=storage.ManagementPolicyFilterArgs(
                blob_types=["blockBlob"], prefix_match=prefixes
            ),
            actions=storage.ManagementPolicyActionArgs(**actions),
        ),
    )


_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def _starts_with(attribute: str, prefixes: tuple[str, ...]) -> str:
    return " OR ".join(f"{attribute} StringStartsWith '{p}'" for p in prefixes)


def read_condition(*prefixes: str) -> str:
    """An ABAC condition letting blobs/read through for reads of blobs under `prefixes` and
    for listings of them. A listing (suboperation Blob.List) has no blob path, so a
    condition on the path alone denies it; it is judged on the request's prefix instead. As
    in "Example: Read or list blobs in named containers with a path" of Azure's
    storage-auth-abac-examples.md, and storage-auth-abac-attributes.md ("Blob prefix", a
    request attribute; values without the container name or a leading slash)."""
    read, listing = f"ActionMatches{{'{_BLOBS}/read'}}", "SubOperationMatches{'Blob.List'}"
    return (
        f"((!({read} AND NOT {listing})) OR "
        f"({_starts_with(f'@Resource[{_BLOBS}:path]', prefixes)})) AND "
        f"((!({read} AND {listing})) OR "
        f"({_starts_with(f'@Request[{_BLOBS}:prefix]', prefixes)}))"
    )


# What barman-cloud does in the container (EnterpriseDB/barman
# barman/cloud_providers/azure_blob_storage.py): the container's existence
# (Get Container Properties: containers/read), list, upload, download, delete for the
# retention policy. Storage Blob Data Contributor would also let the identity delete or
# reconfigure the whole container (its Actions include containers/delete and
# containers/write, learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage),
# which no condition can restrict (conditions apply to DataActions only), so each writer has
# its own role with nothing else.
WRITER_ACTIONS = ["Microsoft.Storage/storageAccounts/blobServices/containers/read"]
BACKUP_DATA_ACTIONS = [f"{_BLOBS}/{a}" for a in ("read", "write", "delete", "add/action")]
# The model publisher as adlfs uses the container (adlfs==2026.8.0 adlfs/spec.py): the
# container's existence (:1126, get_container_properties), listings and reads, uploads
# (:1767 upload_blob; block uploads :2257-2347, blobs/write and add/action). No delete of any
# kind: a revision, once written, is never removed by the platform.
PUBLISHER_DATA_ACTIONS = [f"{_BLOBS}/{a}" for a in ("read", "write", "add/action")]


def writer_permissions(data_actions: list[str]) -> azure.authorization.PermissionArgs:
    return azure.authorization.PermissionArgs(actions=WRITER_ACTIONS, data_actions=data_actions)


def write_condition(*prefixes: str) -> str:
    """read_condition's reads and listings under `prefixes`, and writes, appends and deletes
    of blobs under them (the path attribute, as in "Example: Read, write, or delete blobs in
    named containers with a path" of storage-auth-abac-examples.md)."""
    changes = " AND ".join(
        f"!(ActionMatches{{'{_BLOBS}/{a}'}})" for a in ("write", "add/action", "delete")
    )
    return (
        f"{read_condition(*prefixes)} AND "
        f"(({changes}) OR ({_starts_with(f'@Resource[{_BLOBS}:path]', prefixes)}))"
    )


@dataclass(frozen=True)
class Writer:
    """An identity that writes under `prefixes` of the container with a role of its own."""

    role: str  # resource names: <bucket>-<role>
    title: str  # in the custom role's tenant-unique name
    data_actions: list[str]
    prefixes: tuple[str, ...]
    service_account: str  # the Kubernetes service account it trusts
    token_dir: str  # where that pod mounts its token, off Azure


BACKUP_WRITER = Writer(
    "backup", "database backups", BACKUP_DATA_ACTIONS, (f"{DATABASE_BACKUP_PREFIX}/",),
    GATEWAY_DB, DATABASE_CREDENTIALS_DIR,
)
MODEL_PUBLISHER_WRITER = Writer(
    "publisher", "model publisher", PUBLISHER_DATA_ACTIONS,
    (f"{MODELS_PREFIX}/", f"{EVALS_PREFIX}/"), MODEL_PUBLISHER, TOKEN_DIR,
)


# A training job's identity, as adlfs uses the container (the calls PUBLISHER_DATA_ACTIONS
# lists) and deletes for checkpoint retention: the backup writer's data actions, each held
# to its own prefixes by trainer_condition.
TRAINER_DATA_ACTIONS = BACKUP_DATA_ACTIONS


def _only_under(actions: tuple[str, ...], prefixes: tuple[str, ...]) -> str:
    """`actions` on blobs pass only for blob paths under `prefixes` (write_condition's
    shape, for some of the actions)."""
    matches = " AND ".join(f"!(ActionMatches{{'{_BLOBS}/{a}'}})" for a in actions)
    return f"(({matches}) OR ({_starts_with(f'@Resource[{_BLOBS}:path]', prefixes)}))"


def trainer_condition(job: str, model: str) -> str:
    """Reads and listings under models/ (a base we published) and checkpoints/<job>/;
    writes and appends under checkpoints/<job>/ and models/<model>/; deletes under
    checkpoints/<job>/ only, where the harness keeps the last N checkpoints. Never another
    job's checkpoints, another model, evals/ or gateway-db/."""
    checkpoints, output = f"{CHECKPOINTS_PREFIX}/{job}/", f"{MODELS_PREFIX}/{model}/"
    return (
        f"{read_condition(f'{MODELS_PREFIX}/', checkpoints)} AND "
        f"{_only_under(('write', 'add/action'), (checkpoints, output))} AND "
        f"{_only_under(('delete',), (checkpoints,))}"
    )


def writer_role(role_definition_id: pulumi.Input[str], *prefixes: str) -> dict[str, Any]:
    return dict(
        principal_type="ServicePrincipal",
        role_definition_id=role_definition_id,
        condition_version="2.0",
        condition=write_condition(*prefixes),
    )


def reader_role(args: ArtifactBucketArgs) -> dict[str, Any]:
    """Storage Blob Data Reader, for blobs under models/ only."""
    return dict(
        principal_type="ServicePrincipal",
        role_definition_id=ids.role_definition(args.subscription_id, ids.BLOB_DATA_READER),
        condition_version="2.0",
        condition=read_condition(f"{MODELS_PREFIX}/"),
    )


def federated_credential(
    args: ArtifactBucketArgs,
    cluster_issuer: pulumi.Input[str],
    service_account: str = WEIGHTS_READER,
) -> dict[str, Any]:
    """Trust tokens of one service account, from the on-prem issuer in a hybrid and the AKS
    cluster's otherwise."""
    return dict(
        issuer=args.onprem_issuer if args.onprem_issuer is not None else cluster_issuer,
        subject=f"system:serviceaccount:{args.namespace}:{service_account}",
        audiences=[TOKEN_EXCHANGE_AUDIENCE],
    )


def workload_identity(
    onprem: bool,
    client_id: pulumi.Input[str],
    tenant_id: pulumi.Input[str],
    token_dir: str = TOKEN_DIR,
) -> WorkloadIdentity:
    if onprem:
        # Off Azure there is no webhook: the pod carries what it would have injected.
        return WorkloadIdentity(
            env={
                "AZURE_CLIENT_ID": client_id,
                "AZURE_TENANT_ID": tenant_id,
                "AZURE_FEDERATED_TOKEN_FILE": f"{token_dir}/token",
            },
            token_audience=TOKEN_EXCHANGE_AUDIENCE,
        )
    return WorkloadIdentity(
        service_account_annotations={"azure.workload.identity/client-id": client_id},
        pod_labels={"azure.workload.identity/use": "true"},
    )


def rclone_store(account_name: str) -> ArtifactStore:
    return ArtifactStore(
        uri=f"https://{account_name}.blob.core.windows.net/{CONTAINER}",
        rclone_env={
            "RCLONE_CONFIG_ARTIFACTS_TYPE": "azureblob",
            "RCLONE_CONFIG_ARTIFACTS_ACCOUNT": account_name,
            "RCLONE_CONFIG_ARTIFACTS_ENV_AUTH": "true",
        },
        models_path=f"artifacts:{CONTAINER}/{MODELS_PREFIX}",
        # adlfs takes the account from AZURE_STORAGE_ACCOUNT_NAME (adlfs==2026.8.0
        # adlfs/spec.py:335) and, given no key, SAS or connection string, the pod's workload
        # identity through azure.identity's DefaultAzureCredential (:386-397, :512-524).
        fsspec_uri=f"az://{CONTAINER}",
        fsspec_env={"AZURE_STORAGE_ACCOUNT_NAME": account_name},
    )


class ArtifactBucket(pulumi.ComponentResource):
    store: ArtifactStore
    identity: WorkloadIdentity
    # The database backup writer's, where args.database_backups.
    backup_identity: WorkloadIdentity | None
    # The model publisher's (models/ and evals/, never a delete), where args.model_publisher.
    publisher_identity: WorkloadIdentity | None
    # Per training job (args.trainers): checkpoints/<job>/ and models/<model>/, trusting
    # TRAINER_PREFIX<job> of the AKS cluster, where training runs in a hybrid too.
    trainer_identities: dict[str, WorkloadIdentity]

    def __init__(
        self,
        name: str,
        args: ArtifactBucketArgs,
        resource_group: pulumi.Input[str],
        node_subnet_id: pulumi.Input[str],
        cluster_issuer: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`cluster_issuer` is the AKS cluster's OIDC issuer, unused when the spec names an
        on-prem issuer."""
        super().__init__("llm-platform:azure:ArtifactBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = storage.StorageAccount(
            f"{name}-account",
            **storage_account(args, resource_group, node_subnet_id),
            # Weights and checkpoints outlive a stack: `pulumi destroy` must not delete them.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        # From the account's output, so its children wait for it.
        group = dict(account_name=account.name, resource_group_name=resource_group)
        storage.BlobServiceProperties(
            f"{name}-versioning",
            **group,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=7),
            opts=child,
        )
        container = storage.BlobContainer(
            f"{name}-container",
            **group,
            container_name=CONTAINER,
            public_access="None",
            opts=child,
        )
        storage.ManagementPolicy(
            f"{name}-lifecycle",
            **group,
            management_policy_name="default",
            policy=lifecycle(args),
            opts=child,
        )
        self.identity = self._reader(name, args, resource_group, container.id, cluster_issuer)
        self.backup_identity, self.publisher_identity = (
            self._writer(name, args, resource_group, container.id, cluster_issuer, writer)
            if wanted
            else None
            for writer, wanted in (
                (BACKUP_WRITER, args.database_backups),
                (MODEL_PUBLISHER_WRITER, args.model_publisher),
            )
        )
        self.trainer_identities = self._trainers(
            name, args, resource_group, container.id, cluster_issuer
        )
        self.store = rclone_store(args.account_name)
        self.register_outputs({"account": args.account_name})

    def _trainers(
        self,
        name: str,
        args: ArtifactBucketArgs,
        resource_group: pulumi.Input[str],
        container_id: pulumi.Input[str],
        cluster_issuer: pulumi.Input[str],
    ) -> dict[str, WorkloadIdentity]:
        """One custom role for every training job (its conditions differ, per assignment),
        and an identity per job trusting the AKS cluster's tokens of train-<job>."""
        if not args.trainers:
            return {}
        role = azure.authorization.RoleDefinition(
            f"{name}-trainer",
            scope=container_id,
            role_name=f"llm-platform training jobs ({args.account_name})",
            description=f"Writes checkpoints and models of training jobs in "
            f"{args.account_name}/{CONTAINER}; each assignment's condition names the job's",
            permissions=[writer_permissions(TRAINER_DATA_ACTIONS)],
            assignable_scopes=[container_id],
            opts=pulumi.ResourceOptions(parent=self),
        )
        found = {}
        for job, model in args.trainers:
            base = f"{name}-train-{job}"
            assignment = dict(
                principal_type="ServicePrincipal",
                role_definition_id=role.id,
                condition_version="2.0",
                condition=trainer_condition(job, model),
            )
            credential = dict(
                issuer=cluster_issuer,
                subject=f"system:serviceaccount:{args.namespace}:{TRAINER_PREFIX}{job}",
                audiences=[TOKEN_EXCHANGE_AUDIENCE],
            )
            identity = self._identity(base, args, resource_group)
            found[job] = self._grant(
                base, identity, args, resource_group, container_id, assignment, credential,
                TOKEN_DIR, in_cloud=True,
            )
        return found

    def _reader(
        self,
        name: str,
        args: ArtifactBucketArgs,
        resource_group: pulumi.Input[str],
        container_id: pulumi.Input[str],
        cluster_issuer: pulumi.Input[str],
    ) -> WorkloadIdentity:
        """The identity that reads models/, and whom it trusts."""
        identity = self._identity(f"{name}-reader", args, resource_group)
        return self._grant(
            f"{name}-reader", identity, args, resource_group, container_id, reader_role(args),
            federated_credential(args, cluster_issuer), TOKEN_DIR,
        )

    def _writer(
        self,
        name: str,
        args: ArtifactBucketArgs,
        resource_group: pulumi.Input[str],
        container_id: pulumi.Input[str],
        cluster_issuer: pulumi.Input[str],
        writer: Writer,
    ) -> WorkloadIdentity:
        """An identity with `writer`'s own role, held to its prefixes, trusting its service
        account's tokens."""
        base = f"{name}-{writer.role}"
        identity = self._identity(base, args, resource_group)
        role = azure.authorization.RoleDefinition(
            base,
            scope=container_id,
            # Custom role names are unique in the tenant: the account's is global.
            role_name=f"llm-platform {writer.title} ({args.account_name})",
            description=f"Writes {' and '.join(writer.prefixes)} in "
            f"{args.account_name}/{CONTAINER}",
            permissions=[writer_permissions(writer.data_actions)],
            assignable_scopes=[container_id],
            opts=pulumi.ResourceOptions(parent=self),
        )
        return self._grant(
            base, identity, args, resource_group, container_id,
            writer_role(role.id, *writer.prefixes),
            federated_credential(args, cluster_issuer, writer.service_account), writer.token_dir,
        )

    def _identity(
        self, name: str, args: ArtifactBucketArgs, resource_group: pulumi.Input[str]
    ) -> azure.managedidentity.UserAssignedIdentity:
        return azure.managedidentity.UserAssignedIdentity(
            fit(name, names.USER_ASSIGNED_IDENTITY),
            resource_group_name=resource_group,
            location=args.location,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _grant(
        self,
        name: str,
        identity: azure.managedidentity.UserAssignedIdentity,
        args: ArtifactBucketArgs,
        resource_group: pulumi.Input[str],
        container_id: pulumi.Input[str],
        role: dict[str, Any],
        credential: dict[str, Any],
        token_dir: str,
        in_cloud: bool = False,
    ) -> WorkloadIdentity:
        """`identity` gets `role` on the container and trusts the tokens `credential` names;
        `in_cloud`: its pods run in the AKS cluster even in a hybrid (training jobs)."""
        child = pulumi.ResourceOptions(parent=self)
        azure.authorization.RoleAssignment(
            name, scope=container_id, principal_id=identity.principal_id, **role, opts=child
        )
        azure.managedidentity.FederatedIdentityCredential(
            name,
            resource_group_name=resource_group,
            resource_name_=identity.name,
            **credential,
            opts=child,
        )
        onprem = args.onprem_issuer is not None and not in_cloud
        return workload_identity(onprem, identity.client_id, identity.tenant_id, token_dir)
