"""Cluster: a private AKS cluster with a user-assigned control-plane identity, Entra ID
authentication with Azure RBAC and local accounts disabled, Cilium network policy, the OIDC
issuer and Workload Identity, and Secrets encrypted with a Key Vault key (KMS); its system
pool; and the Kubernetes provider for the layer."""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pulumi_azure_native as azure
import pulumi_kubernetes as k8s

from components import pricing
from components.azure import ids, names
from components.azure.agent_pool import node_settings
from components.azure.args import ClusterArgs
from components.conventions import POOL_LABEL
from components.naming import fit

STORAGE_CLASS = "managed-csi-premium"
cs = azure.containerservice


def security_profile(key_uri: pulumi.Input[str]) -> cs.ManagedClusterSecurityProfileArgs:
    return cs.ManagedClusterSecurityProfileArgs(
        workload_identity=cs.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True),
        image_cleaner=cs.ManagedClusterSecurityProfileImageCleanerArgs(
            enabled=True, interval_hours=48
        ),
        azure_key_vault_kms=cs.AzureKeyVaultKmsArgs(
            enabled=True,
            key_id=key_uri,
            # AKS reaches a firewalled vault only through API server VNet integration; the
            # vault is RBAC-only and holds nothing but this key.
            key_vault_network_access="Public",
        ),
    )


def system_pool(
    args: ClusterArgs, node_subnet_id: pulumi.Input[str]
) -> cs.ManagedClusterAgentPoolProfileArgs:
    return cs.ManagedClusterAgentPoolProfileArgs(
        name=names.SYSTEM_POOL,
        mode="System",
        vm_size=args.system_vm_size,
        count=args.system_nodes,
        os_type="Linux",
        os_sku="AzureLinux",
        type="VirtualMachineScaleSets",
        vnet_subnet_id=node_subnet_id,
        node_labels={POOL_LABEL: "system"},
        **node_settings(),
        tags={
            **args.tags,
            pricing.NODE_HOURS_TAG: str(args.system_nodes * pricing.HOURS_PER_MONTH),
        },
    )


def managed_cluster(
    args: ClusterArgs,
    resource_group: pulumi.Input[str],
    node_subnet_id: pulumi.Input[str],
    identity_id: pulumi.Input[str],
    key_uri: pulumi.Input[str],
) -> dict[str, Any]:
    return dict(
        resource_name_=args.cluster_name,
        resource_group_name=resource_group,
        location=args.location,
        dns_prefix=args.cluster_name,
        node_resource_group=args.node_resource_group,
        kubernetes_version=args.kubernetes_version,
        # Standard tier: the uptime SLA a production API server needs.
        sku=cs.ManagedClusterSKUArgs(name="Base", tier="Standard"),
        # User-assigned, so it can be granted the KMS key before the cluster exists.
        identity=cs.ManagedClusterIdentityArgs(
            type="UserAssigned", user_assigned_identities=[identity_id]
        ),
        enable_rbac=True,
        disable_local_accounts=True,
        aad_profile=cs.ManagedClusterAADProfileArgs(
            managed=True,
            enable_azure_rbac=True,
            admin_group_object_ids=list(args.admin_group_object_ids) or None,
        ),
        api_server_access_profile=cs.ManagedClusterAPIServerAccessProfileArgs(
            enable_private_cluster=True
        ),
        network_profile=cs.ContainerServiceNetworkProfileArgs(
            network_plugin="azure",
            network_plugin_mode="overlay",
            network_dataplane="cilium",
            network_policy="cilium",
            outbound_type="userAssignedNATGateway",
        ),
        oidc_issuer_profile=cs.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
        security_profile=security_profile(key_uri),
        auto_upgrade_profile=cs.ManagedClusterAutoUpgradeProfileArgs(
            upgrade_channel="patch", node_os_upgrade_channel="NodeImage"
        ),
        agent_pool_profiles=[system_pool(args, node_subnet_id)],
        tags=args.tags,
    )


def vault(
    args: ClusterArgs, resource_group: pulumi.Input[str], tenant_id: pulumi.Input[str]
) -> dict[str, Any]:
    """RBAC-only, and a deleted key stays recoverable for 90 days (purge protection):
    without the key the cluster's Secrets are unreadable. Premium, the SKU that holds
    HSM-protected keys; it has no charge of its own, the HSM key is billed per key a month
    (azure.microsoft.com/pricing/details/key-vault)."""
    return dict(
        vault_name=args.vault_name,
        resource_group_name=resource_group,
        location=args.location,
        properties=azure.keyvault.VaultPropertiesArgs(
            tenant_id=tenant_id,
            sku=azure.keyvault.SkuArgs(family="A", name="premium"),
            enable_rbac_authorization=True,
            enable_soft_delete=True,
            soft_delete_retention_in_days=90,
            enable_purge_protection=True,
        ),
        tags=args.tags,
    )


def secrets_key(
    args: ClusterArgs, resource_group: pulumi.Input[str], vault_name: pulumi.Input[str]
) -> dict[str, Any]:
    """The key that encrypts Secrets (KMS v2 wraps its data keys with it), generated and
    kept in the vault's HSMs: RSA-HSM, which the AKS KMS plugin uses as it does a software
    key (github.com/Azure/kubernetes-kms README: "a key in Key Vault protected by a Hardware
    Security Module"). No expiry: see components/azure/scanner.py (CKV_AZURE_40).
    ARM creates a key only under a new name and never changes one (Keys - Create If Not
    Exist, learn.microsoft.com/rest/api/keyvault/keyvault/keys/create-if-not-exist): a vault
    that already holds a software `cluster-secrets` keeps it."""
    return dict(
        resource_group_name=resource_group,
        vault_name=vault_name,
        key_name="cluster-secrets",
        properties=azure.keyvault.KeyPropertiesArgs(
            kty="RSA-HSM", key_size=2048, key_ops=["encrypt", "decrypt", "wrapKey", "unwrapKey"]
        ),
        tags=args.tags,
    )


def control_plane_grants(
    args: ClusterArgs, vault_id: pulumi.Input[str], node_subnet_id: pulumi.Input[str]
) -> list[tuple[str, pulumi.Input[str], str]]:
    """(name, scope, role definition) of what the control-plane identity needs: the key
    (Crypto User), and the node subnet, where AKS manages load balancers and routes."""
    sub = args.subscription_id
    return [
        ("kms-user", vault_id, ids.role_definition(sub, ids.KEY_VAULT_CRYPTO_USER)),
        ("subnet", node_subnet_id, ids.role_definition(sub, ids.NETWORK_CONTRIBUTOR)),
    ]


def kubeconfig(kubeconfigs: list[Any] | None) -> str:
    """The exec-format kubeconfig AKS returns, which authenticates through kubelogin with
    Entra ID: no static token."""
    return base64.b64decode(kubeconfigs[0].value).decode() if kubeconfigs else ""


class Cluster(pulumi.ComponentResource):
    name: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(
        self,
        name: str,
        args: ClusterArgs,
        resource_group: pulumi.Input[str],
        node_subnet_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llm-platform:azure:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        identity, key, grants = self._kms(name, args, resource_group, node_subnet_id)
        aks = cs.ManagedCluster(
            f"{name}-aks",
            **managed_cluster(
                args, resource_group, node_subnet_id, identity.id, key.key_uri_with_version
            ),
            # Pools and their sizes are managed as AgentPool resources and by the autoscaler.
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=["agentPoolProfiles"], depends_on=grants
            ),
        )
        creds = cs.list_managed_cluster_user_credentials_output(
            resource_group_name=resource_group, resource_name=aks.name, format="exec"
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=pulumi.Output.secret(creds.kubeconfigs.apply(kubeconfig)),
            namespace=args.namespace,
            enable_server_side_apply=True,
            opts=child,
        )
        self.name = aks.name
        self.oidc_issuer = aks.oidc_issuer_profile.apply(
            lambda p: (p.issuer_url if p else None) or ""
        )
        self.register_outputs({"name": self.name})

    def _kms(
        self,
        name: str,
        args: ClusterArgs,
        resource_group: pulumi.Input[str],
        node_subnet_id: pulumi.Input[str],
    ) -> tuple[
        azure.managedidentity.UserAssignedIdentity,
        azure.keyvault.Key,
        list[azure.authorization.RoleAssignment],
    ]:
        """The control-plane identity, the Key Vault key that encrypts Secrets, and the
        grants the identity needs."""
        child = pulumi.ResourceOptions(parent=self)
        identity = azure.managedidentity.UserAssignedIdentity(
            fit(f"{name}-identity", names.USER_ASSIGNED_IDENTITY),
            resource_group_name=resource_group,
            location=args.location,
            tags=args.tags,
            opts=child,
        )
        tenant = azure.authorization.get_client_config_output().tenant_id
        kv = azure.keyvault.Vault(f"{name}-kms", **vault(args, resource_group, tenant), opts=child)
        key = azure.keyvault.Key(
            f"{name}-secrets", **secrets_key(args, resource_group, kv.name), opts=child
        )
        grants = [
            azure.authorization.RoleAssignment(
                f"{name}-{what}",
                scope=scope,
                principal_id=identity.principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=role,
                opts=child,
            )
            for what, scope, role in control_plane_grants(args, kv.id, node_subnet_id)
        ]
        return identity, key, grants
