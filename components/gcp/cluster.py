"""Cluster: a private, VPC-native GKE cluster with Workload Identity, shielded nodes,
Dataplane V2 (which enforces NetworkPolicy), a release channel and Secrets encrypted with a
Cloud KMS key; its system node pool; and the Kubernetes provider for the layer."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.conventions import POOL_LABEL
from components.gcp import names
from components.gcp.args import ClusterArgs
from components.gcp.network import PODS_RANGE, SERVICES_RANGE
from components.kubernetes.kubeconfig import exec_kubeconfig
from components.naming import fit

STORAGE_CLASS = "standard-rwo"  # GKE's balanced persistent disk class
KEY_ROTATION_DAYS = 90
# What the nodes' service account may do: write logs and metrics, pull images.
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/artifactregistry.reader",
)


def control_plane_access(args: ClusterArgs) -> dict[str, Any]:
    """Private nodes always; a public endpoint only for the authorized networks, if any."""
    return dict(
        private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
            enable_private_nodes=True,
            enable_private_endpoint=not args.authorized_networks,
            master_ipv4_cidr_block=args.control_plane_cidr,
        ),
        master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
            cidr_blocks=[
                gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                    cidr_block=c, display_name=f"allowed-{i}"
                )
                for i, c in enumerate(args.authorized_networks)
            ]
        ),
    )


def dataplane() -> dict[str, Any]:
    return dict(
        datapath_provider="ADVANCED_DATAPATH",
        # Dataplane V2 enforces NetworkPolicy itself (Cilium); the networkPolicy block is the
        # legacy Calico add-on, which stays off: GKE refuses a request that enables it (or
        # explicitly disables it) on a Dataplane V2 cluster (cloud.google.com/kubernetes-engine/
        # docs/how-to/dataplane-v2). enabled=False sends an empty networkPolicy, as an absent
        # block does: the provider's expandNetworkPolicy sets Enabled only when true
        # (GoogleCloudPlatform/terraform-google-conversion, its container cluster converter).
        network_policy=gcp.container.ClusterNetworkPolicyArgs(enabled=False),
        # Pod-to-pod traffic on one node goes through the VPC too, so the subnet's flow logs
        # and the firewall rules see it; Autopilot, which runs Dataplane V2, turns it on by
        # default (cloud.google.com/kubernetes-engine/docs/how-to/intranode-visibility). It
        # adds flow-log volume at the subnet's sampling (network.subnet).
        enable_intranode_visibility=True,
    )


def default_pool_config() -> gcp.container.ClusterNodeConfigArgs:
    # The default node pool, removed once the cluster exists (remove_default_node_pool),
    # runs shielded with secure boot and the GKE metadata server while it lives, as every
    # pool of ours does (node_config).
    return gcp.container.ClusterNodeConfigArgs(
        shielded_instance_config=gcp.container.ClusterNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_integrity_monitoring=True
        ),
        workload_metadata_config=gcp.container.ClusterNodeConfigWorkloadMetadataConfigArgs(
            mode="GKE_METADATA"
        ),
    )


def cluster(
    args: ClusterArgs,
    network_id: pulumi.Input[str],
    subnet_id: pulumi.Input[str],
    secrets_key: pulumi.Input[str],
) -> dict[str, Any]:
    return dict(
        name=args.cluster_name,
        project=args.project,
        location=args.region,
        node_locations=list(args.zones),
        network=network_id,
        subnetwork=subnet_id,
        remove_default_node_pool=True,
        initial_node_count=1,
        networking_mode="VPC_NATIVE",
        **dataplane(),
        ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
            cluster_secondary_range_name=PODS_RANGE,
            services_secondary_range_name=SERVICES_RANGE,
        ),
        **control_plane_access(args),
        workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
            workload_pool=f"{args.project}.svc.id.goog"
        ),
        release_channel=gcp.container.ClusterReleaseChannelArgs(channel=args.release_channel),
        enable_shielded_nodes=True,
        enable_legacy_abac=False,
        master_auth=gcp.container.ClusterMasterAuthArgs(
            client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                issue_client_certificate=False
            )
        ),
        logging_config=gcp.container.ClusterLoggingConfigArgs(
            enable_components=["SYSTEM_COMPONENTS", "APISERVER", "WORKLOADS"]
        ),
        # Secrets in etcd are envelope-encrypted with our Cloud KMS key, not only with
        # Google's default encryption at rest.
        database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(
            state="ENCRYPTED", key_name=secrets_key
        ),
        resource_labels=args.labels,
        node_config=default_pool_config(),
        deletion_protection=True,
    )


def system_pool(
    args: ClusterArgs, cluster_id: pulumi.Input[str], service_account: pulumi.Input[str]
) -> dict[str, Any]:
    per_zone, zones = args.system_nodes, len(args.zones)
    return dict(
        cluster=cluster_id,
        location=args.region,
        node_locations=list(args.zones),
        initial_node_count=per_zone,
        autoscaling=gcp.container.NodePoolAutoscalingArgs(
            total_min_node_count=per_zone * zones, total_max_node_count=per_zone * zones * 2
        ),
        management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
        node_config=node_config(
            args.system_machine_type,
            service_account,
            {POOL_LABEL: "system"},
            args.labels,
        ),
    )


def node_config(
    machine_type: str,
    service_account: pulumi.Input[str],
    node_labels: dict[str, str],
    resource_labels: dict[str, str],
    **gpu: object,
) -> gcp.container.NodePoolNodeConfigArgs:
    """Node settings every pool shares: shielded VMs with secure boot, the GKE metadata
    server (pods never see the node's credentials), legacy metadata endpoints off."""
    return gcp.container.NodePoolNodeConfigArgs(
        machine_type=machine_type,
        service_account=service_account,
        oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
        disk_type="pd-balanced",
        disk_size_gb=200 if gpu else 50,
        labels=node_labels,
        resource_labels=resource_labels,
        metadata={"disable-legacy-endpoints": "true"},
        shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_integrity_monitoring=True
        ),
        workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
            mode="GKE_METADATA"
        ),
        **gpu,  # type: ignore[arg-type]
    )


def gke_service_agent(project_number: str) -> str:
    return f"serviceAccount:service-{project_number}@container-engine-robot.iam.gserviceaccount.com"


def kubeconfig(endpoint: str | None, ca: str | None, cluster: str | None) -> str:
    plugin = {"command": "gke-gcloud-auth-plugin", "provideClusterInfo": True}
    return exec_kubeconfig(cluster, f"https://{endpoint}", ca, plugin)


class Cluster(pulumi.ComponentResource):
    name: pulumi.Output[str]
    node_service_account: pulumi.Output[str]
    # The environment's Cloud KMS key ring, which other components' keys join.
    key_ring_id: pulumi.Output[str]
    # <project>.svc.id.goog, read off the cluster: IAM accepts members of this pool only once
    # a cluster with Workload Identity exists, so whatever names one must wait for it.
    workload_pool: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(
        self,
        name: str,
        args: ClusterArgs,
        network_id: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llm-platform:gcp:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        nodes_sa = self._node_account(name, args, child)
        ring = gcp.kms.KeyRing(
            f"{name}-keyring",
            name=f"llm-{args.environment}",
            project=args.project,
            location=args.region,
            opts=child,
        )
        secrets_key = self._secrets_key(name, args, ring, child)
        gke = gcp.container.Cluster(
            f"{name}-gke",
            **cluster(args, network_id, subnet_id, secrets_key.crypto_key_id),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[secrets_key],
                # nodeConfig describes the default pool only, gone after creation: a later
                # change to it must not update (or replace) the cluster.
                ignore_changes=["nodeConfig"],
            ),
        )
        gcp.container.NodePool(
            fit(f"{name}-system", names.GKE_NODE_POOL),
            **system_pool(args, gke.id, nodes_sa.email),
            opts=child,
        )
        config = pulumi.Output.all(
            gke.endpoint,
            gke.master_auth.apply(lambda auth: auth.cluster_ca_certificate if auth else None),
            gke.name,
        ).apply(lambda a: kubeconfig(*a))
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=config,
            namespace=args.namespace,
            enable_server_side_apply=True,
            opts=child,
        )
        self.name = gke.name
        self.key_ring_id = ring.id
        self.node_service_account = nodes_sa.email
        self.workload_pool = gke.workload_identity_config.apply(
            lambda c: (c.workload_pool if c else None) or ""
        )
        self.register_outputs({"name": self.name})

    @staticmethod
    def _node_account(
        name: str, args: ClusterArgs, child: pulumi.ResourceOptions
    ) -> gcp.serviceaccount.Account:
        """Nodes run as a service account that can only write logs and metrics, not as the
        project's default Compute Engine account (Editor)."""
        account = gcp.serviceaccount.Account(
            f"{name}-nodes",
            account_id=fit(f"llm-{args.environment}-nodes", names.SERVICE_ACCOUNT_ID),
            display_name=f"GKE nodes of {args.cluster_name}",
            opts=child,
        )
        for role in NODE_ROLES:
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1]}",
                project=args.project,
                role=role,
                member=account.email.apply(lambda e: f"serviceAccount:{e}"),
                opts=child,
            )
        return account

    @staticmethod
    def _secrets_key(
        name: str, args: ClusterArgs, ring: gcp.kms.KeyRing, child: pulumi.ResourceOptions
    ) -> gcp.kms.CryptoKeyIAMMember:
        """A Cloud KMS key for the cluster's Secrets, rotated every 90 days, usable by the
        GKE service agent only, in the environment's key ring. Key rings cannot be deleted: a
        re-created environment imports its ring (`pulumi import`) or takes a new environment
        name."""
        key = gcp.kms.CryptoKey(
            f"{name}-secrets",
            name="cluster-secrets",
            key_ring=ring.id,
            rotation_period=f"{KEY_ROTATION_DAYS * 86400}s",
            labels=args.labels,
            opts=child,
        )
        project = gcp.organizations.get_project_output(project_id=args.project)
        return gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-gke",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=project.number.apply(gke_service_agent),
            opts=child,
        )
