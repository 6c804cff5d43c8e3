"""ArtifactBucket: a storage account and private container for weights and checkpoints,
and read access to `models/` only.

No anonymous blob access, TLS 1.2 minimum, HTTPS only, shared keys disabled (Entra ID
only), the network closed except the node subnet, blob versioning with lifecycle rules.
Model servers read through Workload Identity: a user-assigned identity trusting the
cluster's OIDC issuer (or, in a hybrid, the on-prem cluster's).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components import naming, pricing
from components.azure import ids, names
from components.kubernetes.facts import WEIGHTS_READER, ArtifactStore, WorkloadIdentity
from components.kubernetes.weights_access import TOKEN_DIR
from components.naming import fit
from components.spec import EnvironmentSpec

CONTAINER = "artifacts"
MODELS_PREFIX = "models"
CHECKPOINTS_PREFIX = "checkpoints"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


@dataclass(frozen=True)
class ArtifactBucketArgs:
    spec: EnvironmentSpec
    resource_group: pulumi.Input[str]
    node_subnet_id: pulumi.Input[str]
    expected_gib: int
    # The cluster's OIDC issuer, or None to trust the on-prem issuer of a hybrid.
    cluster_issuer: pulumi.Input[str] | None


class ArtifactBucket(pulumi.ComponentResource):
    store: ArtifactStore
    identity: WorkloadIdentity

    def __init__(
        self, name: str, args: ArtifactBucketArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:azure:ArtifactBucket", name, None, opts)
        spec = args.spec
        cfg = spec.azure
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        tags = naming.tags(spec)
        account_id = ids.global_name(spec)
        account = azure.storage.StorageAccount(
            f"{name}-account",
            account_name=account_id,
            resource_group_name=args.resource_group,
            location=cfg.location,
            kind="StorageV2",
            sku=azure.storage.SkuArgs(name="Standard_LRS"),
            access_tier="Hot",
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_cross_tenant_replication=False,
            network_rule_set=azure.storage.NetworkRuleSetArgs(
                default_action="Deny",
                bypass="AzureServices",
                virtual_network_rules=[
                    azure.storage.VirtualNetworkRuleArgs(
                        virtual_network_resource_id=args.node_subnet_id
                    )
                ],
            ),
            tags={**tags, pricing.EXPECTED_GIB_TAG: str(args.expected_gib)},
            # Weights and checkpoints outlive a stack: `pulumi destroy` must not delete them.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        azure.storage.BlobServiceProperties(
            f"{name}-versioning",
            account_name=account.name,
            resource_group_name=args.resource_group,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy=azure.storage.DeleteRetentionPolicyArgs(enabled=True, days=7),
            opts=child,
        )
        container = azure.storage.BlobContainer(
            f"{name}-container",
            account_name=account.name,
            resource_group_name=args.resource_group,
            container_name=CONTAINER,
            public_access="None",
            opts=child,
        )
        art = spec.artifacts
        azure.storage.ManagementPolicy(
            f"{name}-lifecycle",
            account_name=account.name,
            resource_group_name=args.resource_group,
            management_policy_name="default",
            policy=azure.storage.ManagementPolicySchemaArgs(
                rules=[
                    _rule(
                        "expire-old-versions",
                        [f"{CONTAINER}/"],
                        version=azure.storage.ManagementPolicyVersionArgs(
                            delete=azure.storage.DateAfterCreationArgs(
                                days_after_creation_greater_than=art.noncurrent_version_days
                            )
                        ),
                    ),
                    _rule(
                        "expire-checkpoints",
                        [f"{CONTAINER}/{CHECKPOINTS_PREFIX}/"],
                        base_blob=azure.storage.ManagementPolicyBaseBlobArgs(
                            delete=azure.storage.DateAfterModificationArgs(
                                days_after_modification_greater_than=art.checkpoint_days
                            )
                        ),
                    ),
                ]
            ),
            opts=child,
        )
        identity = azure.managedidentity.UserAssignedIdentity(
            fit(f"{name}-reader", names.USER_ASSIGNED_IDENTITY),
            resource_group_name=args.resource_group,
            location=cfg.location,
            tags=tags,
            opts=child,
        )
        azure.authorization.RoleAssignment(
            f"{name}-reader",
            scope=container.id,
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=ids.role_definition(spec, ids.BLOB_DATA_READER),
            condition_version="2.0",
            condition=models_only_condition(f"{MODELS_PREFIX}/"),
            opts=child,
        )
        onprem = args.cluster_issuer is None
        azure.managedidentity.FederatedIdentityCredential(
            f"{name}-reader",
            resource_group_name=args.resource_group,
            resource_name_=identity.name,
            issuer=spec.hybrid.onprem_oidc_issuer if onprem else args.cluster_issuer,
            subject=f"system:serviceaccount:{spec.namespace}:{WEIGHTS_READER}",
            audiences=[TOKEN_EXCHANGE_AUDIENCE],
            opts=child,
        )
        if onprem:
            # Off Azure there is no webhook: the pod carries what it would have injected.
            self.identity = WorkloadIdentity(
                env={
                    "AZURE_CLIENT_ID": identity.client_id,
                    "AZURE_TENANT_ID": identity.tenant_id,
                    "AZURE_FEDERATED_TOKEN_FILE": f"{TOKEN_DIR}/token",
                },
                token_audience=TOKEN_EXCHANGE_AUDIENCE,
            )
        else:
            self.identity = WorkloadIdentity(
                service_account_annotations={
                    "azure.workload.identity/client-id": identity.client_id
                },
                pod_labels={"azure.workload.identity/use": "true"},
            )
        self.store = ArtifactStore(
            uri=f"https://{account_id}.blob.core.windows.net/{CONTAINER}",
            rclone_env={
                "RCLONE_CONFIG_ARTIFACTS_TYPE": "azureblob",
                "RCLONE_CONFIG_ARTIFACTS_ACCOUNT": account_id,
                "RCLONE_CONFIG_ARTIFACTS_ENV_AUTH": "true",
            },
            models_path=f"artifacts:{CONTAINER}/{MODELS_PREFIX}",
        )
        self.register_outputs({"account": account_id})


_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def models_only_condition(prefix: str) -> str:
    """An ABAC condition letting blobs/read through for reads of blobs under `prefix` and
    for listings of that prefix. A listing (suboperation Blob.List) has no blob path, so a
    condition on the path alone denies it; it is judged on the request's prefix instead. As
    in "Example: Read or list blobs in named containers with a path" of Azure's
    storage-auth-abac-examples.md, and storage-auth-abac-attributes.md ("Blob prefix", a
    request attribute; values without the container name or a leading slash)."""
    read, listing = f"ActionMatches{{'{_BLOBS}/read'}}", "SubOperationMatches{'Blob.List'}"
    return (
        f"((!({read} AND NOT {listing})) OR "
        f"(@Resource[{_BLOBS}:path] StringStartsWith '{prefix}')) AND "
        f"((!({read} AND {listing})) OR "
        f"(@Request[{_BLOBS}:prefix] StringStartsWith '{prefix}'))"
    )


def _rule(name: str, prefixes: list[str], **actions) -> azure.storage.ManagementPolicyRuleArgs:
    return azure.storage.ManagementPolicyRuleArgs(
        name=name,
        enabled=True,
        type="Lifecycle",
        definition=azure.storage.ManagementPolicyDefinitionArgs(
            filters=azure.storage.ManagementPolicyFilterArgs(
                blob_types=["blockBlob"], prefix_match=prefixes
            ),
            actions=azure.storage.ManagementPolicyActionArgs(**actions),
        ),
    )
