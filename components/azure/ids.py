"""Azure names and ids that more than one Azure component derives from the spec."""

from __future__ import annotations

import hashlib

from components import naming
from components.azure import names
from components.naming import fit
from components.spec import EnvironmentSpec

# Built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"


def resource_group(spec: EnvironmentSpec) -> str:
    return fit(f"llm-{spec.environment}", names.RESOURCE_GROUP)


def cluster_name(spec: EnvironmentSpec) -> str:
    return fit(f"llm-{spec.environment}", names.AKS_CLUSTER)


def node_resource_group(spec: EnvironmentSpec) -> str | None:
    """The node resource group AKS would name MC_<group>_<cluster>_<location>, fitted when
    that default is too long; None (AKS's default) otherwise, so clusters that already
    exist keep theirs."""
    assert spec.azure is not None
    default = f"MC_{resource_group(spec)}_{cluster_name(spec)}_{spec.azure.location}"
    fitted = fit(default, names.NODE_RESOURCE_GROUP)
    return None if fitted == default else fitted


def global_name(spec: EnvironmentSpec) -> str:
    """A name for resources whose names are global (storage accounts, key vaults): 3-24
    lowercase letters and digits, stable per environment and subscription. An environment
    whose whole name fits keeps "llm<environment><subscription digest>"; any other is
    fitted from environment and subscription together, so no two environments share one."""
    assert spec.azure is not None
    subscription = spec.azure.subscription_id
    readable = f"llm{spec.environment}"
    if readable.isalnum() and len(readable) <= names.GLOBAL.max_len - naming.HASH_CHARS:
        return readable + hashlib.sha256(subscription.encode()).hexdigest()[: naming.HASH_CHARS]
    return fit(f"llm-{spec.environment}-{subscription}", names.GLOBAL)


def role_definition(spec: EnvironmentSpec, role: str) -> str:
    assert spec.azure is not None
    return (
        f"/subscriptions/{spec.azure.subscription_id}/providers/"
        f"Microsoft.Authorization/roleDefinitions/{role}"
    )
