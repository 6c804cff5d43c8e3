"""The narrow Args of the azure package's components, filled in by resolve.py.

Each holds only what its component uses, as plain values, so a component can be built and
its builders tested without a spec. Outputs of sibling components (the resource group, a
subnet id) are not here: the foundation passes them to the component that needs them.
Pure data: no provider SDK import.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.kubernetes.facts import PoolScheduling, Taint


@dataclass(frozen=True)
class NetworkArgs:
    resource_group: str
    location: str
    vnet_cidr: str
    # The required tags, on every resource that takes tags.
    tags: dict[str, str]
    # Whether to add the GatewaySubnet a VPN gateway needs.
    gateway_subnet: bool = False


@dataclass(frozen=True)
class ClusterArgs:
    cluster_name: str
    location: str
    subscription_id: str
    kubernetes_version: str
    # The Key Vault holding the Secrets key: a globally unique name.
    vault_name: str
    system_vm_size: str
    system_nodes: int
    # The Kubernetes provider's default namespace.
    namespace: str
    tags: dict[str, str]
    # None: AKS's default MC_<group>_<cluster>_<location>.
    node_resource_group: str | None = None
    # Entra ID groups made cluster admins (Azure RBAC).
    admin_group_object_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentPoolArgs:
    # The AKS pool name (12 lowercase alphanumerics).
    pool_name: str
    vm_size: str
    spot: bool
    min_nodes: int
    max_nodes: int
    # Nodes the pool starts with.
    steady_nodes: int
    # Kubernetes labels on the nodes, and Azure tags on the scale set (tags and pool tags).
    node_labels: dict[str, str]
    tags: dict[str, str]
    # The platform's taints (PoolScheduling.platform_taints).
    taints: tuple[Taint, ...] = ()
    # The most a Spot node may cost an hour; unused on-demand.
    spot_max_usd_per_hour: float | None = None


@dataclass(frozen=True)
class ArtifactBucketArgs:
    # The storage account: a globally unique name.
    account_name: str
    location: str
    subscription_id: str
    # Namespace of the Kubernetes service account that may read models/.
    namespace: str
    noncurrent_version_days: int
    checkpoint_days: int
    # The size the cost model prices the account at.
    expected_gib: int
    tags: dict[str, str]
    # The on-prem cluster's issuer in a hybrid; None: trust the AKS cluster's issuer.
    onprem_issuer: str | None = None
    # The gateway runs its own Postgres (CloudNativePG) in `namespace`: a second identity may
    # write its backups under gateway-db/, trusting the database's service account.
    database_backups: bool = False
    # The spec serves models: a third identity may write models/ and evals/ (never delete),
    # trusting the model publisher's service account (the weights sync and eval gate Jobs).
    model_publisher: bool = False
    # The spec's training jobs, as (job, model) pairs: an identity each that reads models/
    # and checkpoints/<job>/, writes checkpoints/<job>/ and models/<model>/ and deletes only
    # under checkpoints/<job>/, trusting train-<job> in `namespace` of the AKS cluster (in a
    # hybrid too: training runs on the cloud's own pools, so never the on-prem issuer).
    trainers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BudgetArgs:
    budget_name: str
    # The action group's short name (12 characters, shown in SMS and email).
    short_name: str
    subscription_id: str
    # Spend is filtered on this `environment` tag.
    environment: str
    monthly_usd: float
    # The first day of the first month, YYYY-MM-01.
    start_date: str
    # Sorted percentages of the budget, each an actual-spend notification.
    thresholds_pct: tuple[int, ...]
    tags: dict[str, str]
    notify_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class VpnArgs:
    location: str
    peer_ip: str
    onprem_cidrs: tuple[str, ...]
    shared_key: pulumi.Input[str]
    tags: dict[str, str]


@dataclass(frozen=True)
class AzureFoundationArgs:
    subscription_id: str
    location: str
    network: NetworkArgs
    cluster: ClusterArgs
    # Pool name -> its agent pool, in spec order.
    pools: dict[str, AgentPoolArgs]
    # How the layer's pods reach each pool.
    scheduling: dict[str, PoolScheduling]
    artifacts: ArtifactBucketArgs
    budget: BudgetArgs
    # A hybrid's VPN to the on-prem site; None for any other link or none.
    vpn: VpnArgs | None = None
