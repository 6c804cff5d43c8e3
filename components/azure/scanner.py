"""Checkov checks that do not fit this cloud's resources, each with its reason
(components/scan.py says how the exports carry them). Pure: no Pulumi import."""

from __future__ import annotations

from components.scan import Skip

AKS = "azure-native:containerservice:ManagedCluster"
VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
ACCOUNT = "azure-native:storage:StorageAccount"

SKIPS: tuple[Skip, ...] = (
    # The AKS cluster (cluster.py Cluster, "<base>-cluster-aks").
    Skip(AKS, "-cluster-aks", "CKV_AZURE_6",
         "The API server is private (enablePrivateCluster), reachable only from the VNet or "
         "peered networks, and AKS refuses authorized IP ranges on a private cluster "
         "(learn.microsoft.com/azure/aks/api-server-authorized-ip-ranges: 'You can't use "
         "this feature with private clusters')"),
    Skip(AKS, "-cluster-aks", "CKV_AZURE_8",
         "The Kubernetes Dashboard add-on was removed from AKS at 1.19 (we run 1.35 by "
         "default), so no cluster of ours can turn it on; AKS answers a kubeDashboard addon "
         "profile with AddonInvalid 'Kubernetes Dashboard addon is deprecated for Kubernetes "
         "version >= 1.19.0' (terraform-provider-azurerm #13119)"),
    Skip(AKS, "-cluster-aks", "CKV_AZURE_172",
         "The Secrets Store CSI Driver add-on (azureKeyvaultSecretsProvider) is not enabled: "
         "pods read no Key Vault secrets, so there is no mounted secret to rotate"),
    Skip(AKS, "-cluster-aks", "CKV_AZURE_4",
         "Container Insights (omsagent) ships node and container logs to Log Analytics, "
         "billed per GB ingested; the platform's metrics and alerts are its in-cluster "
         "Prometheus. AKS control-plane and audit logs are not exported (no diagnostic "
         "setting): a known gap, not covered by this skip"),
    Skip(AKS, "-cluster-aks", "CKV_AZURE_226",
         "The system pool's VM size, Standard_D4s_v5 (the catalog's only Azure CPU size), has "
         "no local storage to hold an ephemeral OS disk: the Dsv5 series lists Ephemeral OS "
         "Disk as Not Supported (learn.microsoft.com/azure/virtual-machines/sizes/"
         "general-purpose/dsv5-series)"),
    # The Key Vault holding the Secrets (KMS) key (cluster.py Cluster._kms, "-cluster-kms").
    Skip(VAULT, "-cluster-kms", "CKV_AZURE_109",
         "AKS KMS does not support a public vault behind a firewall (selected networks, IP "
         "rules): it blocks the KMS plugin; a private vault needs API Server VNet "
         "Integration (learn.microsoft.com/azure/aks/use-kms-etcd-encryption, Limitations). "
         "Access is Entra ID RBAC only"),
    Skip(VAULT, "-cluster-kms", "CKV_AZURE_189",
         "AKS KMS with keyVaultNetworkAccess Public needs the vault's public endpoint: "
         "disabling it or adding IP rules blocks the KMS plugin "
         "(learn.microsoft.com/azure/aks/use-kms-etcd-encryption, Limitations). Access is "
         "Entra ID RBAC only"),
    # The key that encrypts the cluster's Secrets (cluster.py Cluster._kms, "-cluster-secrets").
    Skip(KEY, "-cluster-secrets", "CKV_AZURE_40",
         "The AKS KMS plugin encrypts with the key version pinned in the cluster's "
         "azureKeyVaultKms.keyId and fails with KeyExpired once it expires; a new version is "
         "used only after a cluster update, so an expiry or auto-rotation policy would stop "
         "the API server (learn.microsoft.com/azure/aks/use-kms-etcd-encryption)"),
    # The artifact storage account (artifacts.py ArtifactBucket, "-artifacts-account").
    Skip(ACCOUNT, "-artifacts-account", "CKV_AZURE_206",
         "The check accepts only geo-redundant SKUs (GRS/GZRS), about twice the LRS price "
         "per GB, against a regional loss only: the account holds base weights "
         "re-downloadable from their source, fine-tuned models a training job can rebuild, "
         "and checkpoints kept checkpoint_days; versioning and soft delete cover deletions"),
)
