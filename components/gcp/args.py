"""The narrow Args of the gcp package's components, filled in by resolve.py.

Each holds only what its component uses, as plain values, so a component can be built and
its builders tested without a spec. Outputs of sibling components (a network id, a
cluster name) are not here: the foundation passes them to the component that needs them.
Pure data: no provider SDK import.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.kubernetes.facts import PoolScheduling, Taint


@dataclass(frozen=True)
class NetworkArgs:
    region: str
    subnet_cidr: str
    # Secondary ranges of the node subnet (VPC-native pods and services).
    pods_cidr: str
    services_cidr: str


@dataclass(frozen=True)
class ClusterArgs:
    project: str
    region: str
    # Zones of every node pool, system and GPU alike.
    zones: tuple[str, ...]
    cluster_name: str
    # Names the KMS key ring and the nodes' service account.
    environment: str
    # The Kubernetes provider's default namespace.
    namespace: str
    control_plane_cidr: str
    release_channel: str
    system_machine_type: str
    # Per zone; the system pool autoscales between this and twice it.
    system_nodes: int
    # Resource labels: the required tags, lowercased.
    labels: dict[str, str]
    # Empty: the control plane has a private endpoint only.
    authorized_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodePoolArgs:
    region: str
    zones: tuple[str, ...]
    machine_type: str
    # The accelerator type GKE attaches (catalog), and how many per node.
    accelerator: str
    gpus_per_node: int
    spot: bool
    # Totals across the zones.
    min_nodes: int
    max_nodes: int
    # Nodes the pool starts with, in total; spread over the zones.
    steady_nodes: int
    # Kubernetes labels on the nodes, and GCP labels on their VMs (tags and pool tags).
    node_labels: dict[str, str]
    labels: dict[str, str]
    # The platform's taints (PoolScheduling.platform_taints).
    taints: tuple[Taint, ...] = ()


@dataclass(frozen=True)
class OnPremFederation:
    """How the on-prem cluster of a hybrid reads the bucket: a workload identity pool
    trusting its service-account issuer for one audience."""

    pool_id: str
    display_name: str
    issuer: str
    audience: str
    # For an issuer GCP cannot reach; None: GCP fetches the keys from the issuer.
    jwks_json: str | None = None


@dataclass(frozen=True)
class ArtifactBucketArgs:
    project: str
    # GCS location, e.g. US-CENTRAL1.
    location: str
    bucket_name: str
    reader_account_id: str
    # Namespace of the Kubernetes service account that may read models/.
    namespace: str
    noncurrent_version_days: int
    checkpoint_days: int
    # Including the expected size the cost model prices.
    labels: dict[str, str]
    # None: the GKE cluster's pods read through Workload Identity.
    federation: OnPremFederation | None = None
    # The account that writes the gateway database's backups under gateway-db/, bound to the
    # database's service account; None: the spec runs no database in the cluster.
    backup_account_id: str | None = None
    # The account that reads and adds to models/ and evals/ (never deletes), bound to the model
    # publisher's service account (the weights sync and eval gate Jobs); None: no models.
    publisher_account_id: str | None = None
    # The spec's training jobs, as (job, model, account id): an account each that reads
    # models/ and checkpoints/<job>/, adds to checkpoints/<job>/ and models/<model>/ and
    # deletes (or replaces) only under checkpoints/<job>/, bound by Workload Identity to
    # train-<job> in `namespace` of the GKE cluster (in a hybrid too: training runs on the
    # cloud's own pools, so no on-prem provider).
    trainers: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class BudgetArgs:
    billing_account: str
    # The project and region of the budget's Pub/Sub topic and its Cloud KMS key.
    project: str
    region: str
    budget_name: str
    # Spend is filtered on this `environment` label.
    environment: str
    monthly_usd: float
    # Sorted percentages of the budget, each an actual-spend threshold rule.
    thresholds_pct: tuple[int, ...]
    labels: dict[str, str]
    notify_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class VpnArgs:
    region: str
    peer_ip: str
    peer_asn: int
    shared_key: pulumi.Input[str]


@dataclass(frozen=True)
class GcpFoundationArgs:
    project: str
    region: str
    # The provider's default labels, on every resource that takes labels.
    labels: dict[str, str]
    network: NetworkArgs
    cluster: ClusterArgs
    # Pool name -> its node pool, in spec order.
    pools: dict[str, NodePoolArgs]
    # How the layer's pods reach each pool.
    scheduling: dict[str, PoolScheduling]
    artifacts: ArtifactBucketArgs
    budget: BudgetArgs
    # A hybrid's VPN to the on-prem site; None for any other link or none.
    vpn: VpnArgs | None = None
