"""The security rules' checks of Azure resources (policies/llm_platform_rules/security.py
runs them through the cloud registry). Each returns what is wrong, one sentence each, to
follow the resource's name. Pure: no Pulumi import."""

from __future__ import annotations

from collections.abc import Collection

from components.clouds import Props
from components.props import get, items

AKS_CLUSTER = "azure-native:containerservice:ManagedCluster"


def _storage_account(p: Props) -> list[str]:
    problems = []
    if get(p, "allowBlobPublicAccess") is not False:
        problems.append("allows public blob access. Set allowBlobPublicAccess: false.")
    if get(p, "enableHttpsTrafficOnly") is False or get(p, "minimumTlsVersion") in (
        "TLS1_0",
        "TLS1_1",
    ):
        problems.append(
            "accepts plain HTTP or old TLS. Set "
            "enableHttpsTrafficOnly: true and minimumTlsVersion: TLS1_2."
        )
    if get(p, "encryption", "requireInfrastructureEncryption") is False:
        problems.append("turns infrastructure encryption off. Remove the override.")
    return problems


def _blob_container(p: Props) -> list[str]:
    if get(p, "publicAccess") not in (None, "None"):
        return [
            f"is readable anonymously (publicAccess "
            f"{get(p, 'publicAccess')}). Set publicAccess: None."
        ]
    return []


def _endpoint(p: Props, open_cidrs: Collection[str]) -> list[str]:
    access = get(p, "apiServerAccessProfile") or {}
    ranges = get(access, "authorizedIPRanges")
    opened = not items(ranges) or any(str(c) in open_cidrs for c in items(ranges))
    if get(access, "enablePrivateCluster") is not True and opened:
        return [
            "has a public API server open to the internet. Enable "
            "the private cluster or set authorizedIPRanges."
        ]
    return []


def _secrets_encryption(p: Props) -> list[str]:
    if get(p, "securityProfile", "azureKeyVaultKms", "enabled") is not True:
        return [
            "does not encrypt Secrets with a Key Vault key. Enable "
            "securityProfile.azureKeyVaultKms."
        ]
    return []


STORAGE = {
    "azure-native:storage:StorageAccount": _storage_account,
    "azure-native:storage:BlobContainer": _blob_container,
}
ENDPOINT = {AKS_CLUSTER: _endpoint}
SECRETS_ENCRYPTION = {AKS_CLUSTER: _secrets_encryption}
