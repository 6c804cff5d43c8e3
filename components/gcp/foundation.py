"""GcpFoundation: network, private GKE, GPU node pools, the artifact bucket, the billing
budget and, in a hybrid, HA VPN to the on-prem site. Hands the layer its facts."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from components import pricing
from components.gcp import names
from components.gcp.artifacts import ArtifactBucket, ArtifactBucketArgs
from components.gcp.budget import Budget, BudgetArgs
from components.gcp.cluster import STORAGE_CLASS, Cluster, ClusterArgs, labels
from components.gcp.network import Network, NetworkArgs
from components.gcp.node_pool import NodePool, NodePoolArgs
from components.gcp.vpn import SiteVpn, VpnArgs
from components.kubernetes.facts import (
    ArtifactStore,
    ClusterFacts,
    FoundationArgs,
    WorkloadIdentity,
    node_labels,
    pool_scheduling,
)
from components.naming import fit
from components.scheduling import node_runtime
from components.spec import Vpn


class GcpFoundation(pulumi.ComponentResource):
    facts: ClusterFacts
    store: ArtifactStore
    onprem_identity: WorkloadIdentity | None
    outputs: dict[str, pulumi.Output[Any]]

    def __init__(self, name: str, args: FoundationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:gcp:Foundation", name, None, opts)
        env = args.env
        spec = env.spec
        cfg = spec.gcp
        assert cfg is not None
        provider = gcp.Provider(
            f"{name}-gcp",
            project=cfg.project,
            region=cfg.region,
            # Every resource that takes labels gets the required tags.
            default_labels=labels(spec),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"gcp": provider})
        network = Network(f"{name}-network", NetworkArgs(spec=spec), opts=child)
        cluster = Cluster(
            f"{name}-cluster",
            ClusterArgs(
                spec=spec,
                cluster_name=fit(f"llm-{spec.environment}", names.GKE_CLUSTER),
                network_id=network.network_id,
                subnet_id=network.subnet_id,
            ),
            opts=child,
        )
        pools = spec.cloud_pools()
        # GKE taints GPU nodes nvidia.com/gpu=present:NoSchedule itself, the same taint the
        # pools set; Spot VMs in Standard node pools get a label, not a taint
        # (https://cloud.google.com/kubernetes-engine/docs/how-to/gpus,
        # https://cloud.google.com/kubernetes-engine/docs/concepts/spot-vms).
        scheduling = pool_scheduling(pools)
        for pool in pools:
            gpus_min = env.pool_gpus_min(pool.name)
            NodePool(
                f"{name}-{pool.name}",
                NodePoolArgs(
                    spec=spec,
                    cluster_id=cluster.name,
                    service_account=cluster.node_service_account,
                    pool=pool,
                    node_labels=node_labels(pool),
                    steady_nodes=pricing.steady_nodes(pool, gpus_min),
                    node_hours=pricing.node_hours(pool, gpus_min),
                    taints=tuple(scheduling[pool.name].platform_taints),
                ),
                opts=child,
            )
        hybrid = spec.topology == "hybrid"
        bucket = ArtifactBucket(
            f"{name}-artifacts",
            ArtifactBucketArgs(
                spec=spec,
                bucket_name=fit(
                    f"{cfg.project}-llm-{spec.environment}-artifacts", names.GCS_BUCKET
                ),
                expected_gib=pricing.expected_artifact_gib(env),
                federate_onprem=hybrid,
                workload_pool=cluster.workload_pool,
            ),
            opts=child,
        )
        Budget(
            f"{name}-budget",
            BudgetArgs(spec=spec, budget_name=f"llm-{spec.environment}"),
            opts=child,
        )
        link = spec.hybrid.connectivity if spec.hybrid else None
        self.outputs = {
            "cluster": cluster.name,
            "artifacts": pulumi.Output.from_input(bucket.store.uri),
        }
        if isinstance(link, Vpn):
            vpn = SiteVpn(
                f"{name}-vpn",
                VpnArgs(
                    spec=spec,
                    link=link,
                    network_id=network.network_id,
                    shared_key=args.secrets[link.shared_key_secret],
                ),
                opts=child,
            )
            # Where the on-prem VPN peer points its tunnels.
            self.outputs["vpn_gateway_addresses"] = vpn.gateway_addresses
        self.store = bucket.store
        self.onprem_identity = bucket.identity if hybrid else None
        self.facts = ClusterFacts(
            provider=cluster.provider,
            pools=scheduling,
            storage_class=STORAGE_CLASS,
            artifacts=bucket.store,
            workload_identity=None if hybrid else bucket.identity,
            gpu_runtime=node_runtime("gcp"),
        )
        self.register_outputs(self.outputs)
