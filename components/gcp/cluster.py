"""Cluster: a private, VPC-native GKE cluster with Workload Identity, shielded nodes,
Dataplane V2 (which enforces NetworkPolicy), a release channel and Secrets encrypted with a
Cloud KMS key; its system node pool; and the Kubernetes provider for the layer."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components import naming
from components.gcp import names
from components.gcp.network import PODS_RANGE, SERVICES_RANGE
from components.kubernetes.kubeconfig import exec_kubeconfig
from components.naming import fit
from components.spec import EnvironmentSpec

STORAGE_CLASS = "standard-rwo"  # GKE's balanced persistent disk class
KEY_ROTATION_DAYS = 90


def labels(spec: EnvironmentSpec, **extra: str) -> dict[str, str]:
    """The required tags as GCP labels, which allow only lowercase values."""
    return {k: v.lower() for k, v in {**naming.tags(spec), **extra}.items()}


@dataclass(frozen=True)
class ClusterArgs:
    spec: EnvironmentSpec
    cluster_name: str
    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]


class Cluster(pulumi.ComponentResource):
    name: pulumi.Output[str]
    node_service_account: pulumi.Output[str]
    # <project>.svc.id.goog, read off the cluster: IAM accepts members of this pool only once
    # a cluster with Workload Identity exists, so whatever names one must wait for it.
    workload_pool: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:gcp:Cluster", name, None, opts)
        spec = args.spec
        cfg = spec.gcp
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        # Nodes run as a service account that can only write logs and metrics, not as the
        # project's default Compute Engine account (Editor).
        nodes_sa = gcp.serviceaccount.Account(
            f"{name}-nodes",
            account_id=fit(f"llm-{spec.environment}-nodes", names.SERVICE_ACCOUNT_ID),
            display_name=f"GKE nodes of {args.cluster_name}",
            opts=child,
        )
        for role in (
            "roles/logging.logWriter",
            "roles/monitoring.metricWriter",
            "roles/monitoring.viewer",
            "roles/artifactregistry.reader",
        ):
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1]}",
                project=cfg.project,
                role=role,
                member=nodes_sa.email.apply(lambda e: f"serviceAccount:{e}"),
                opts=child,
            )
        secrets_key = self._secrets_key(name, spec, child)
        public = bool(cfg.authorized_networks)
        cluster = gcp.container.Cluster(
            f"{name}-gke",
            name=args.cluster_name,
            project=cfg.project,
            location=cfg.region,
            node_locations=cfg.node_zones,
            network=args.network_id,
            subnetwork=args.subnet_id,
            remove_default_node_pool=True,
            initial_node_count=1,
            networking_mode="VPC_NATIVE",
            datapath_provider="ADVANCED_DATAPATH",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=PODS_RANGE,
                services_secondary_range_name=SERVICES_RANGE,
            ),
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=not public,
                master_ipv4_cidr_block=cfg.control_plane_cidr,
            ),
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(  # noqa: E501
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=c, display_name=f"allowed-{i}"
                    )
                    for i, c in enumerate(cfg.authorized_networks)
                ]
            ),
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=f"{cfg.project}.svc.id.goog"
            ),
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=cfg.release_channel),
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            master_auth=gcp.container.ClusterMasterAuthArgs(
                client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(  # noqa: E501
                    issue_client_certificate=False
                )
            ),
            logging_config=gcp.container.ClusterLoggingConfigArgs(
                enable_components=["SYSTEM_COMPONENTS", "APISERVER", "WORKLOADS"]
            ),
            # Secrets in etcd are envelope-encrypted with our Cloud KMS key, not only with
            # Google's default encryption at rest.
            database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(
                state="ENCRYPTED", key_name=secrets_key.crypto_key_id
            ),
            resource_labels=labels(spec),
            deletion_protection=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secrets_key]),
        )
        gcp.container.NodePool(
            fit(f"{name}-system", names.GKE_NODE_POOL),
            cluster=cluster.id,
            location=cfg.region,
            node_locations=cfg.node_zones,
            initial_node_count=cfg.system_nodes,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=cfg.system_nodes * len(cfg.node_zones),
                total_max_node_count=cfg.system_nodes * len(cfg.node_zones) * 2,
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=node_config(
                spec,
                cfg.system_machine_type,
                nodes_sa.email,
                {"llm-platform.dev/pool": "system"},
                labels(spec),
            ),
            opts=child,
        )
        kubeconfig = pulumi.Output.all(
            cluster.endpoint,
            cluster.master_auth.apply(lambda auth: auth.cluster_ca_certificate if auth else None),
            cluster.name,
        ).apply(lambda a: _kubeconfig(*a))
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            namespace=spec.namespace,
            enable_server_side_apply=True,
            opts=child,
        )
        self.name = cluster.name
        self.node_service_account = nodes_sa.email
        self.workload_pool = cluster.workload_identity_config.apply(
            lambda c: (c.workload_pool if c else None) or ""
        )
        self.register_outputs({"name": self.name})

    def _secrets_key(
        self, name: str, spec: EnvironmentSpec, child: pulumi.ResourceOptions
    ) -> gcp.kms.CryptoKeyIAMMember:
        """A Cloud KMS key for the cluster's Secrets, rotated every 90 days, usable by the
        GKE service agent only. Key rings cannot be deleted: a re-created environment
        imports its ring (`pulumi import`) or takes a new environment name."""
        cfg = spec.gcp
        assert cfg is not None
        ring = gcp.kms.KeyRing(
            f"{name}-keyring",
            name=f"llm-{spec.environment}",
            project=cfg.project,
            location=cfg.region,
            opts=child,
        )
        key = gcp.kms.CryptoKey(
            f"{name}-secrets",
            name="cluster-secrets",
            key_ring=ring.id,
            rotation_period=f"{KEY_ROTATION_DAYS * 86400}s",
            labels=labels(spec),
            opts=child,
        )
        project = gcp.organizations.get_project_output(project_id=cfg.project)
        return gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-gke",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=project.number.apply(
                lambda n: (
                    f"serviceAccount:service-{n}@container-engine-robot.iam.gserviceaccount.com"
                )
            ),
            opts=child,
        )


def node_config(
    spec: EnvironmentSpec,
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


def _kubeconfig(endpoint: str | None, ca: str | None, cluster: str | None) -> str:
    plugin = {"command": "gke-gcloud-auth-plugin", "provideClusterInfo": True}
    return exec_kubeconfig(cluster, f"https://{endpoint}", ca, plugin)
