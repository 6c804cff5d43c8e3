"""What the offline plan's mocks return for Azure resources and function calls in place of
what Azure computes. Pure: no Pulumi import."""

from __future__ import annotations

from typing import Any

from components.clouds import OFFLINE_UUID

INVOKE_RESULTS: dict[str, dict[str, Any]] = {
    "azure-native:containerservice:listManagedClusterUserCredentials": {"kubeconfigs": []},
    "azure-native:authorization:getClientConfig": {
        "tenantId": OFFLINE_UUID,
        "subscriptionId": OFFLINE_UUID,
        "clientId": OFFLINE_UUID,
        "objectId": OFFLINE_UUID,
    },
}


def computed(type_: str, name: str, _inputs: dict[str, Any]) -> dict[str, Any]:
    """Identities' ids and a key's versioned URI, which the program grants roles to and
    hands the cluster's KMS settings."""
    if type_ == "azure-native:managedidentity:UserAssignedIdentity":
        return {"clientId": OFFLINE_UUID, "principalId": OFFLINE_UUID, "tenantId": OFFLINE_UUID}
    if type_ == "azure-native:keyvault:Key":
        return {"keyUriWithVersion": f"https://offline-plan.vault.azure.net/keys/{name}/0"}
    return {}


def managed_cluster_output(outputs: dict[str, Any]) -> dict[str, Any]:
    """AKS takes its identities as a list of ids and returns them as a map keyed by id; the
    SDK would fail to read the input's shape back."""
    identity = outputs.get("identity")
    if isinstance(identity, dict):
        ids = identity.get("userAssignedIdentities")
        if isinstance(ids, list):
            outputs = {
                **outputs,
                "identity": {**identity, "userAssignedIdentities": {i: {} for i in ids}},
            }
    return outputs


AS_OUTPUT = {"azure-native:containerservice:ManagedCluster": managed_cluster_output}
