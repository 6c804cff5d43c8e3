"""Azure names and ids that more than one Azure component derives from the spec."""

from __future__ import annotations

import hashlib

from components.spec import EnvironmentSpec

# Built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"


def global_name(spec: EnvironmentSpec) -> str:
    """A name for resources whose names are global (storage accounts, key vaults): 3-24
    lowercase letters and digits, stable per environment and subscription."""
    assert spec.azure is not None
    digest = hashlib.sha256(spec.azure.subscription_id.encode()).hexdigest()[:6]
    return ("llm" + "".join(c for c in spec.environment if c.isalnum()))[:18] + digest


def role_definition(spec: EnvironmentSpec, role: str) -> str:
    assert spec.azure is not None
    return (
        f"/subscriptions/{spec.azure.subscription_id}/providers/"
        f"Microsoft.Authorization/roleDefinitions/{role}"
    )
