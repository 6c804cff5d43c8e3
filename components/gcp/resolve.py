"""The one place the gcp package reads the validated spec: it turns the Environment into the
narrow Args its components take. The spec's checks have already run, so what they
guarantee (a gcp block, an instance type on every cloud pool) is taken as given."""

from __future__ import annotations

import pulumi

from components import catalog, naming, pricing
from components.gcp import names
from components.gcp.args import (
    ArtifactBucketArgs,
    BudgetArgs,
    ClusterArgs,
    GcpFoundationArgs,
    NetworkArgs,
    NodePoolArgs,
    OnPremFederation,
    VpnArgs,
)
from components.kubernetes.facts import PoolScheduling, node_labels, pool_scheduling
from components.naming import fit
from components.spec import CnpgDatabase, Environment, EnvironmentSpec, Gcp, GpuPool, Vpn, given


def labels(tags: dict[str, str], **extra: str) -> dict[str, str]:
    """The required tags as GCP labels, which allow only lowercase values."""
    return {k: v.lower() for k, v in {**tags, **extra}.items()}


def foundation_args(env: Environment, secrets: dict[str, pulumi.Input[str]]) -> GcpFoundationArgs:
    spec = env.spec
    cfg = given(spec.gcp, "spec.gcp")
    pools = spec.cloud_pools()
    # GKE taints GPU nodes nvidia.com/gpu=present:NoSchedule itself, the same taint the
    # pools set; Spot VMs in Standard node pools get a label, not a taint
    # (https://cloud.google.com/kubernetes-engine/docs/how-to/gpus,
    # https://cloud.google.com/kubernetes-engine/docs/concepts/spot-vms).
    scheduling = pool_scheduling(pools)
    link = spec.hybrid.connectivity if spec.hybrid else None
    return GcpFoundationArgs(
        project=cfg.project,
        region=cfg.region,
        labels=labels(naming.tags(spec)),
        network=NetworkArgs(
            region=cfg.region,
            subnet_cidr=cfg.subnet_cidr,
            pods_cidr=cfg.pods_cidr,
            services_cidr=cfg.services_cidr,
        ),
        cluster=cluster_args(spec, cfg),
        pools={p.name: node_pool_args(env, cfg, p, scheduling[p.name]) for p in pools},
        scheduling=scheduling,
        artifacts=artifact_args(env, cfg),
        budget=budget_args(spec, cfg),
        vpn=VpnArgs(
            region=cfg.region,
            peer_ip=link.peer_ip,
            peer_asn=link.bgp_asn,
            shared_key=secrets[link.shared_key_secret],
        )
        if isinstance(link, Vpn)
        else None,
    )


def cluster_args(spec: EnvironmentSpec, cfg: Gcp) -> ClusterArgs:
    return ClusterArgs(
        project=cfg.project,
        region=cfg.region,
        zones=tuple(cfg.node_zones),
        cluster_name=fit(f"llm-{spec.environment}", names.GKE_CLUSTER),
        environment=spec.environment,
        namespace=spec.namespace,
        control_plane_cidr=cfg.control_plane_cidr,
        release_channel=cfg.release_channel,
        system_machine_type=cfg.system_machine_type,
        system_nodes=cfg.system_nodes,
        labels=labels(naming.tags(spec)),
        authorized_networks=tuple(cfg.authorized_networks),
    )


def node_pool_args(
    env: Environment, cfg: Gcp, pool: GpuPool, scheduling: PoolScheduling
) -> NodePoolArgs:
    inst = catalog.instances()[given(pool.instance_type, f"gpu_pools {pool.name} instance_type")]
    gpus_min = env.pool_gpus_min(pool.name)
    node_hours = pricing.node_hours(pool, gpus_min, env.spec.training.jobs)
    return NodePoolArgs(
        region=cfg.region,
        zones=tuple(cfg.node_zones),
        machine_type=inst.id,
        accelerator=given(inst.accelerator, f"the catalog's accelerator of {inst.id}"),
        gpus_per_node=inst.gpu_count,
        spot=pool.capacity == "spot",
        min_nodes=pool.min_nodes,
        max_nodes=pool.max_nodes,
        steady_nodes=pricing.steady_nodes(pool, gpus_min),
        node_labels=node_labels(pool),
        labels=labels(naming.tags(env.spec), **pricing.pool_tags(pool, node_hours)),
        taints=tuple(scheduling.platform_taints),
    )


def artifact_args(env: Environment, cfg: Gcp) -> ArtifactBucketArgs:
    spec = env.spec
    gib = pricing.expected_artifact_gib(env)
    hybrid = given(spec.hybrid, "spec.hybrid") if spec.topology == "hybrid" else None
    return ArtifactBucketArgs(
        project=cfg.project,
        location=cfg.region.upper(),
        bucket_name=fit(f"{cfg.project}-llm-{spec.environment}-artifacts", names.GCS_BUCKET),
        reader_account_id=fit(f"llm-{spec.environment}-weights", names.SERVICE_ACCOUNT_ID),
        # The gateway's own Postgres backs up to this bucket (kubernetes/resolve.py).
        backup_account_id=fit(f"llm-{spec.environment}-db-backup", names.SERVICE_ACCOUNT_ID)
        if spec.gateway is not None and isinstance(spec.gateway.database, CnpgDatabase)
        else None,
        # Every served model is synced into the bucket and gated from its evals/.
        publisher_account_id=fit(f"llm-{spec.environment}-publisher", names.SERVICE_ACCOUNT_ID)
        if spec.models
        else None,
        trainers=tuple(
            (job.name, job.model, fit(f"llm-{spec.environment}-train-{job.name}",
                                      names.SERVICE_ACCOUNT_ID))
            for job in spec.training.jobs
        ),
        namespace=spec.namespace,
        noncurrent_version_days=spec.artifacts.noncurrent_version_days,
        checkpoint_days=spec.artifacts.checkpoint_days,
        labels=labels(naming.tags(spec), **{pricing.EXPECTED_GIB_TAG: str(gib)}),
        federation=OnPremFederation(
            pool_id=fit(f"llm-{spec.environment}-onprem", names.WORKLOAD_IDENTITY_POOL),
            display_name=fit(f"on-prem {spec.environment}", names.WORKLOAD_IDENTITY_POOL_DISPLAY),
            issuer=hybrid.onprem_oidc_issuer,
            audience=f"llm-platform-{spec.environment}",
            jwks_json=hybrid.onprem_jwks_json,
        )
        if hybrid is not None
        else None,
    )


def budget_args(spec: EnvironmentSpec, cfg: Gcp) -> BudgetArgs:
    budget = spec.budget
    cap = [budget.hard_cap_pct] if budget.hard_cap_pct else []
    return BudgetArgs(
        billing_account=cfg.billing_account,
        project=cfg.project,
        region=cfg.region,
        budget_name=f"llm-{spec.environment}",
        environment=spec.environment,
        monthly_usd=budget.monthly_usd,
        thresholds_pct=tuple(sorted({*budget.alert_thresholds_pct, *cap})),
        labels=labels(naming.tags(spec)),
        notify_emails=tuple(budget.notify_emails),
    )
