"""GcpFoundation: network, private GKE, GPU node pools, the artifact bucket, the billing
budget and, in a hybrid, HA VPN to the on-prem site. Hands the layer its facts."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.gcp.args import GcpFoundationArgs
from components.gcp.artifacts import ArtifactBucket
from components.gcp.budget import Budget
from components.gcp.cluster import STORAGE_CLASS, Cluster
from components.gcp.network import Network
from components.gcp.node_pool import NodePool
from components.gcp.vpn import SiteVpn
from components.kubernetes.facts import ArtifactStore, ClusterFacts, WorkloadIdentity
from components.scheduling import node_runtime


class GcpFoundation(pulumi.ComponentResource):
    facts: ClusterFacts
    store: ArtifactStore
    onprem_identity: WorkloadIdentity | None
    # How the on-prem cluster's database of a hybrid writes its backups to the bucket.
    onprem_database_backup: WorkloadIdentity | None
    # How the on-prem cluster's sync and eval gate Jobs of a hybrid publish to the bucket.
    onprem_model_publisher: WorkloadIdentity | None
    outputs: dict[str, pulumi.Output[Any]]

    def __init__(
        self, name: str, args: GcpFoundationArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:gcp:Foundation", name, None, opts)
        provider = gcp.Provider(
            f"{name}-gcp",
            project=args.project,
            region=args.region,
            # Every resource that takes labels gets the required tags.
            default_labels=args.labels,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"gcp": provider})
        network = Network(f"{name}-network", args.network, opts=child)
        cluster = Cluster(
            f"{name}-cluster",
            args.cluster,
            network_id=network.network_id,
            subnet_id=network.subnet_id,
            opts=child,
        )
        for pool, pool_args in args.pools.items():
            NodePool(
                f"{name}-{pool}",
                pool_args,
                cluster_id=cluster.name,
                service_account=cluster.node_service_account,
                opts=child,
            )
        bucket = ArtifactBucket(
            f"{name}-artifacts", args.artifacts, workload_pool=cluster.workload_pool, opts=child
        )
        Budget(f"{name}-budget", args.budget, key_ring=cluster.key_ring_id, opts=child)
        self.outputs = {
            "cluster": cluster.name,
            "artifacts": pulumi.Output.from_input(bucket.store.uri),
        }
        if args.vpn is not None:
            vpn = SiteVpn(f"{name}-vpn", args.vpn, network_id=network.network_id, opts=child)
            # Where the on-prem VPN peer points its tunnels.
            self.outputs["vpn_gateway_addresses"] = vpn.gateway_addresses
        hybrid = args.artifacts.federation is not None
        self.store = bucket.store
        self.onprem_identity = bucket.identity if hybrid else None
        self.onprem_database_backup = bucket.backup_identity if hybrid else None
        self.onprem_model_publisher = bucket.publisher_identity if hybrid else None
        self.facts = ClusterFacts(
            provider=cluster.provider,
            pools=args.scheduling,
            storage_class=STORAGE_CLASS,
            artifacts=bucket.store,
            workload_identity=None if hybrid else bucket.identity,
            database_backup=None if hybrid else bucket.backup_identity,
            model_publisher=None if hybrid else bucket.publisher_identity,
            # Training runs on this cluster's pools, in a hybrid too.
            trainers=bucket.trainer_identities,
            gpu_runtime=node_runtime("gcp"),
        )
        self.register_outputs(self.outputs)
