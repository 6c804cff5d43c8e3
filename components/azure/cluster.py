"""Cluster: a private AKS cluster with a user-assigned control-plane identity, Entra ID
authentication with Azure RBAC and local accounts disabled, Cilium network policy, the OIDC
issuer and Workload Identity, and Secrets encrypted with a Key Vault key (KMS); its system
pool; and the Kubernetes provider for the layer."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure
import pulumi_kubernetes as k8s

from components import naming, pricing
from components.azure import ids, names
from components.naming import fit
from components.spec import EnvironmentSpec

STORAGE_CLASS = "managed-csi-premium"


@dataclass(frozen=True)
class ClusterArgs:
    spec: EnvironmentSpec
    cluster_name: str
    resource_group: pulumi.Input[str]
    node_subnet_id: pulumi.Input[str]


class Cluster(pulumi.ComponentResource):
    name: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:azure:Cluster", name, None, opts)
        spec = args.spec
        cfg = spec.azure
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        tags = naming.tags(spec)
        identity, key, grants = self._kms(name, args, tags, child)
        cluster = azure.containerservice.ManagedCluster(
            f"{name}-aks",
            resource_name_=args.cluster_name,
            resource_group_name=args.resource_group,
            location=cfg.location,
            dns_prefix=args.cluster_name,
            node_resource_group=ids.node_resource_group(spec),
            kubernetes_version=cfg.kubernetes_version,
            # Standard tier: the uptime SLA a production API server needs.
            sku=azure.containerservice.ManagedClusterSKUArgs(name="Base", tier="Standard"),
            # User-assigned, so it can be granted the KMS key before the cluster exists.
            identity=azure.containerservice.ManagedClusterIdentityArgs(
                type="UserAssigned", user_assigned_identities=[identity.id]
            ),
            enable_rbac=True,
            disable_local_accounts=True,
            aad_profile=azure.containerservice.ManagedClusterAADProfileArgs(
                managed=True,
                enable_azure_rbac=True,
                admin_group_object_ids=cfg.admin_group_object_ids or None,
            ),
            api_server_access_profile=azure.containerservice.ManagedClusterAPIServerAccessProfileArgs(  # noqa: E501
                enable_private_cluster=True
            ),
            network_profile=azure.containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin="azure",
                network_plugin_mode="overlay",
                network_dataplane="cilium",
                network_policy="cilium",
                outbound_type="userAssignedNATGateway",
            ),
            oidc_issuer_profile=azure.containerservice.ManagedClusterOIDCIssuerProfileArgs(
                enabled=True
            ),
            security_profile=azure.containerservice.ManagedClusterSecurityProfileArgs(
                workload_identity=azure.containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(  # noqa: E501
                    enabled=True
                ),
                image_cleaner=azure.containerservice.ManagedClusterSecurityProfileImageCleanerArgs(
                    enabled=True, interval_hours=48
                ),
                azure_key_vault_kms=azure.containerservice.AzureKeyVaultKmsArgs(
                    enabled=True,
                    key_id=key.key_uri_with_version,
                    # AKS reaches a firewalled vault only through API server VNet
                    # integration; the vault is RBAC-only and holds nothing but this key.
                    key_vault_network_access="Public",
                ),
            ),
            auto_upgrade_profile=azure.containerservice.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel="patch", node_os_upgrade_channel="NodeImage"
            ),
            agent_pool_profiles=[
                azure.containerservice.ManagedClusterAgentPoolProfileArgs(
                    name=names.SYSTEM_POOL,
                    mode="System",
                    vm_size=cfg.system_vm_size,
                    count=cfg.system_nodes,
                    os_type="Linux",
                    os_sku="AzureLinux",
                    type="VirtualMachineScaleSets",
                    vnet_subnet_id=args.node_subnet_id,
                    node_labels={"llm-platform.dev/pool": "system"},
                    tags={
                        **tags,
                        pricing.NODE_HOURS_TAG: str(cfg.system_nodes * pricing.HOURS_PER_MONTH),
                    },
                )
            ],
            tags=tags,
            # Pools and their sizes are managed as AgentPool resources and by the autoscaler.
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=["agentPoolProfiles"], depends_on=grants
            ),
        )
        creds = azure.containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=args.resource_group,
            resource_name=cluster.name,
            format="exec",
        )
        # The exec format authenticates through kubelogin with Entra ID: no static token.
        kubeconfig = creds.kubeconfigs.apply(
            lambda ks: base64.b64decode(ks[0].value).decode() if ks else ""
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=pulumi.Output.secret(kubeconfig),
            namespace=spec.namespace,
            enable_server_side_apply=True,
            opts=child,
        )
        self.name = cluster.name
        self.oidc_issuer = cluster.oidc_issuer_profile.apply(
            lambda p: (p.issuer_url if p else None) or ""
        )
        self.register_outputs({"name": self.name})

    def _kms(
        self, name: str, args: ClusterArgs, tags: dict[str, str], child: pulumi.ResourceOptions
    ) -> tuple[
        azure.managedidentity.UserAssignedIdentity,
        azure.keyvault.Key,
        list[azure.authorization.RoleAssignment],
    ]:
        """The control-plane identity, the Key Vault key that encrypts Secrets, and the
        grants the identity needs: the key (Crypto User) and the node subnet (AKS manages
        its load balancers and routes there). Purge protection keeps a deleted key
        recoverable for 90 days; without the key the cluster's Secrets are unreadable."""
        spec = args.spec
        cfg = spec.azure
        assert cfg is not None
        identity = azure.managedidentity.UserAssignedIdentity(
            fit(f"{name}-identity", names.USER_ASSIGNED_IDENTITY),
            resource_group_name=args.resource_group,
            location=cfg.location,
            tags=tags,
            opts=child,
        )
        vault = azure.keyvault.Vault(
            f"{name}-kms",
            vault_name=ids.global_name(spec),
            resource_group_name=args.resource_group,
            location=cfg.location,
            properties=azure.keyvault.VaultPropertiesArgs(
                tenant_id=azure.authorization.get_client_config_output().tenant_id,
                sku=azure.keyvault.SkuArgs(family="A", name="standard"),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=90,
                enable_purge_protection=True,
            ),
            tags=tags,
            opts=child,
        )
        key = azure.keyvault.Key(
            f"{name}-secrets",
            resource_group_name=args.resource_group,
            vault_name=vault.name,
            key_name="cluster-secrets",
            properties=azure.keyvault.KeyPropertiesArgs(
                kty="RSA", key_size=2048, key_ops=["encrypt", "decrypt", "wrapKey", "unwrapKey"]
            ),
            tags=tags,
            opts=child,
        )
        grants = [
            azure.authorization.RoleAssignment(
                f"{name}-{what}",
                scope=scope,
                principal_id=identity.principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=ids.role_definition(spec, role),
                opts=child,
            )
            for what, scope, role in (
                ("kms-user", vault.id, ids.KEY_VAULT_CRYPTO_USER),
                ("subnet", args.node_subnet_id, ids.NETWORK_CONTRIBUTOR),
            )
        ]
        return identity, key, grants
