"""The narrow Args of each AWS component: only what the component uses, with documented
defaults. resolve.py fills them from the validated spec; nothing here reads the spec, so a
component can be built (and its builders tested) from hand-made Args.

Outputs of one component that another needs (subnet ids, the cluster's name) are not Args:
the foundation passes them beside the Args when it wires the children together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi

from components.kubernetes.facts import PoolScheduling, Taint


@dataclass(frozen=True)
class NetworkArgs:
    cluster_name: str  # subnets carry kubernetes.io/cluster/<name> so EKS finds them
    zones: tuple[str, ...]  # one public and one private subnet in each
    region: str
    account_id: str  # named in the flow-log key's policy and role
    cidr: str = "10.40.0.0/16"  # RFC 1918, /16 to /24
    nat: Literal["per-az", "single"] = "per-az"  # "single": one cheaper NAT gateway
    flow_log_retention_days: int = 365
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AutoscalerPins:
    """The cluster-autoscaler chart and image; their minor version matches the control
    plane's (the EKS version's catalog row)."""

    chart: str
    image: str


@dataclass(frozen=True)
class ClusterArgs:
    cluster_name: str
    region: str
    version: str  # EKS minor version, e.g. "1.33"
    autoscaler: AutoscalerPins
    namespace: str  # the default namespace of the Kubernetes provider the layer uses
    account_id: str  # administers the cluster's key
    storage_class_labels: dict[str, str] = field(default_factory=dict)
    # CIDRs that may reach a public API endpoint; empty keeps the endpoint private.
    public_endpoint_cidrs: tuple[str, ...] = ()
    # Keep the version past standard support at EKS's extended-support price.
    extended_support: bool = False
    log_retention_days: int = 365
    tags: dict[str, str] = field(default_factory=dict)
    # A GPU pool runs on SPOT capacity: install aws-node-termination-handler, which drains a
    # spot node on its interruption notice so a training pod checkpoints before it goes.
    spot_pools: bool = False


@dataclass(frozen=True)
class NodeGroupArgs:
    """One EKS managed node group. `gpu` picks the NVIDIA AMI and a root volume that holds
    engine images; `taints` are the ones the platform sets (the system group has none)."""

    instance_types: tuple[str, ...]
    min_size: int
    max_size: int
    desired_size: int  # at creation; the autoscaler and the budget enforcer own it after
    labels: dict[str, str]
    gpu: bool = False
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    taints: tuple[Taint, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeGroupPlacement:
    """Where every node group of the foundation joins: the cluster's outputs."""

    cluster_name: pulumi.Input[str]
    node_role_arn: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]


@dataclass(frozen=True)
class ArtifactBucketArgs:
    bucket_name: str
    region: str
    namespace: str  # where the weights reader's service account lives
    expected_gib: int  # stored GiB, a tag the cost estimate reads
    account_id: str  # administers the bucket's key
    # The second bucket S3 delivers the artifact bucket's server access logs to.
    access_log_bucket_name: str
    access_log_days: int = 365  # how long an access log object is kept
    noncurrent_version_days: int = 30
    checkpoint_days: int = 14
    # Hybrid: the on-prem cluster's service-account issuer, trusted for the weights reader.
    # None: the reader runs in this stack's EKS cluster and gets credentials by Pod Identity.
    onprem_oidc_issuer: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # The gateway runs its own Postgres (CloudNativePG) in `namespace`: a second role may
    # write its backups under gateway-db/, bound to the database's service account.
    database_backups: bool = False
    # The spec serves models: a third role may write models/ and evals/ (never delete),
    # bound to the model publisher's service account (the weights sync and eval gate Jobs).
    model_publisher: bool = False
    # The spec's training jobs, as (job, model) pairs: a role each that reads models/ and
    # checkpoints/<job>/, writes checkpoints/<job>/ and models/<model>/ and deletes only old
    # checkpoints, bound by Pod Identity to train-<job> in `namespace` of the EKS cluster
    # (in a hybrid too: training runs on the cloud's own pools).
    trainers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class EnforcerArgs:
    """The hard-cap Lambda: scales the cluster's GPU node groups to zero at `hard_cap_usd`."""

    function_name: str
    cluster_name: str
    environment: str
    region: str
    account_id: str
    hard_cap_usd: float
    state_prefix: str  # SSM path of the saved node-group sizes
    log_retention_days: int = 365


@dataclass(frozen=True)
class BudgetArgs:
    budget_name: str
    account_id: str
    environment: str  # the value of the `environment` tag the budget filters on
    monthly_usd: float
    thresholds_pct: tuple[int, ...]  # ascending; actual-spend notifications
    notify_emails: tuple[str, ...] = ()
    activate_cost_allocation_tag: bool = False
    enforcer: EnforcerArgs | None = None  # None: no hard cap
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VpnArgs:
    peer_ip: str  # the on-prem gateway's public IPv4 address
    shared_key: pulumi.Input[str]  # the IPsec pre-shared key (a Pulumi secret)
    bgp_asn: int = 65000
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AwsFoundationArgs:
    region: str
    account_id: str  # the only account the provider may deploy into
    network: NetworkArgs
    cluster: ClusterArgs
    system_nodes: NodeGroupArgs
    gpu_pools: dict[str, NodeGroupArgs]  # by pool name
    scheduling: dict[str, PoolScheduling]  # how pods reach each pool, for ClusterFacts
    bucket: ArtifactBucketArgs
    budget: BudgetArgs
    vpn: VpnArgs | None = None  # hybrid with a VPN link
