"""What the policy pack reads off Azure resources, by Pulumi type token (see
components.clouds.PolicyTypes). Pure: no Pulumi import."""

from __future__ import annotations

from components.azure import policy_checks
from components.clouds import PolicyTypes, Props
from components.props import amount, get, items, number

AGENT_POOL = "azure-native:containerservice:AgentPool"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"


def _pool_max(p: Props) -> tuple[str, float | None]:
    if get(p, "enableAutoScaling"):
        return "maxCount", number(get(p, "maxCount"))
    return "count", number(get(p, "count"))


def _budget(p: Props) -> tuple[float | None, int]:
    notified = sum(
        1
        for n in (p.get("notifications") or {}).values()
        if n.get("enabled", True)
        and (n.get("contactEmails") or n.get("contactGroups") or n.get("contactRoles"))
    )
    return amount(p.get("amount")), notified


POLICY_TYPES = PolicyTypes(
    # Checked against pulumi-azure-native for every type the example stacks create
    # (tests/test_policies.py).
    taggable=frozenset(
        {
            AGENT_POOL,
            MANAGED_CLUSTER,
            "azure-native:keyvault:Key",
            "azure-native:keyvault:Vault",
            "azure-native:managedidentity:UserAssignedIdentity",
            "azure-native:monitor:ActionGroup",
            "azure-native:network:NatGateway",
            "azure-native:network:PublicIPAddress",
            "azure-native:network:VirtualNetwork",
            "azure-native:network:VirtualNetworkGateway",
            "azure-native:resources:ResourceGroup",
            "azure-native:storage:StorageAccount",
        }
    ),
    tag_paths={},
    default_tag_path=("tags",),
    # The N series carries GPUs.
    gpu_family=r"^standard_n",
    instance_types={
        AGENT_POOL: lambda p: [get(p, "vmSize")],
        MANAGED_CLUSTER: lambda p: [get(x, "vmSize") for x in items(get(p, "agentPoolProfiles"))],
    },
    pool_max={AGENT_POOL: _pool_max},
    pool_tags={AGENT_POOL: ("tags",)},
    node_labels={AGENT_POOL: ("nodeLabels",)},
    on_spot={AGENT_POOL: lambda p: get(p, "scaleSetPriority") == "Spot"},
    budgets={"azure-native:consumption:Budget": _budget},
    storage=policy_checks.STORAGE,
    endpoint=policy_checks.ENDPOINT,
    secrets_encryption=policy_checks.SECRETS_ENCRYPTION,
)
