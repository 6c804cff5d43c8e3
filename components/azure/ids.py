"""Azure names and ids that more than one Azure component derives from the environment."""

from __future__ import annotations

import hashlib

from components import naming
from components.azure import names
from components.naming import fit

# Built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"


def resource_group(environment: str) -> str:
    return fit(f"llm-{environment}", names.RESOURCE_GROUP)


def cluster_name(environment: str) -> str:
    return fit(f"llm-{environment}", names.AKS_CLUSTER)


def node_resource_group(environment: str, location: str) -> str | None:
    """The node resource group AKS would name MC_<group>_<cluster>_<location>, fitted when
    that default is too long; None (AKS's default) otherwise, so clusters that already
    exist keep theirs."""
    default = f"MC_{resource_group(environment)}_{cluster_name(environment)}_{location}"
    fitted = fit(default, names.NODE_RESOURCE_GROUP)
    return None if fitted == default else fitted


def global_name(environment: str, subscription_id: str) -> str:
    """A name for resources whose names are global (storage accounts, key vaults): 3-24
    lowercase letters and digits, stable per environment and subscription. An environment
    whose whole name fits keeps "llm<environment><subscription digest>"; any other is
    fitted from environment and subscription together, so no two environments share one."""
    readable = f"llm{environment}"
    if readable.isalnum() and len(readable) <= names.GLOBAL.max_len - naming.HASH_CHARS:
        return readable + hashlib.sha256(subscription_id.encode()).hexdigest()[: naming.HASH_CHARS]
    return fit(f"llm-{environment}-{subscription_id}", names.GLOBAL)


def role_definition(subscription_id: str, role: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/providers/"
        f"Microsoft.Authorization/roleDefinitions/{role}"
    )
