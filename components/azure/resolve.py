"""The one place the azure package reads the validated spec: it turns the Environment into
the narrow Args its components take. The spec's checks have already run, so what they
guarantee (an azure block, an instance type on every cloud pool) is taken as given."""

from __future__ import annotations

import pulumi

from components import catalog, naming, pricing
from components.azure import ids, names
from components.azure.agent_pool import implied_taints
from components.azure.args import (
    AgentPoolArgs,
    ArtifactBucketArgs,
    AzureFoundationArgs,
    BudgetArgs,
    ClusterArgs,
    NetworkArgs,
    VpnArgs,
)
from components.kubernetes.facts import PoolScheduling, node_labels, pool_scheduling
from components.naming import fit
from components.spec import Azure, CnpgDatabase, Environment, EnvironmentSpec, GpuPool, Vpn, given


def foundation_args(
    env: Environment, secrets: dict[str, pulumi.Input[str]]
) -> AzureFoundationArgs:
    spec = env.spec
    cfg = given(spec.azure, "spec.azure")
    tags = naming.tags(spec)
    pools = spec.cloud_pools()
    scheduling = pool_scheduling(pools, implied=lambda p: implied_taints(p.capacity == "spot"))
    link = spec.hybrid.connectivity if spec.hybrid else None
    vpn = link if isinstance(link, Vpn) else None
    return AzureFoundationArgs(
        subscription_id=cfg.subscription_id,
        location=cfg.location,
        network=NetworkArgs(
            resource_group=ids.resource_group(spec.environment),
            location=cfg.location,
            vnet_cidr=cfg.vnet_cidr,
            tags=tags,
            gateway_subnet=vpn is not None,
        ),
        cluster=cluster_args(spec, cfg),
        pools={p.name: agent_pool_args(env, p, scheduling[p.name]) for p in pools},
        scheduling=scheduling,
        artifacts=artifact_args(env, cfg),
        budget=budget_args(spec, cfg),
        vpn=VpnArgs(
            location=cfg.location,
            peer_ip=vpn.peer_ip,
            onprem_cidrs=tuple(vpn.onprem_cidrs),
            shared_key=secrets[vpn.shared_key_secret],
            tags=tags,
        )
        if vpn is not None
        else None,
    )


def cluster_args(spec: EnvironmentSpec, cfg: Azure) -> ClusterArgs:
    return ClusterArgs(
        cluster_name=ids.cluster_name(spec.environment),
        location=cfg.location,
        subscription_id=cfg.subscription_id,
        kubernetes_version=cfg.kubernetes_version,
        vault_name=ids.global_name(spec.environment, cfg.subscription_id),
        system_vm_size=cfg.system_vm_size,
        system_nodes=cfg.system_nodes,
        namespace=spec.namespace,
        tags=naming.tags(spec),
        node_resource_group=ids.node_resource_group(spec.environment, cfg.location),
        admin_group_object_ids=tuple(cfg.admin_group_object_ids),
    )


def agent_pool_args(env: Environment, pool: GpuPool, scheduling: PoolScheduling) -> AgentPoolArgs:
    inst = catalog.instances()[given(pool.instance_type, f"gpu_pools {pool.name} instance_type")]
    gpus_min = env.pool_gpus_min(pool.name)
    spot = pool.capacity == "spot"
    hours = pricing.node_hours(pool, gpus_min, env.spec.training.jobs)
    tags = {**naming.tags(env.spec), **pricing.pool_tags(pool, hours)}
    return AgentPoolArgs(
        pool_name=fit(pool.name, names.AKS_AGENT_POOL),
        vm_size=inst.id,
        spot=spot,
        min_nodes=pool.min_nodes,
        max_nodes=pool.max_nodes,
        steady_nodes=pricing.steady_nodes(pool, gpus_min),
        node_labels=node_labels(pool),
        tags=tags,
        taints=tuple(scheduling.platform_taints),
        # Never bid above the on-demand price unless the spec says so.
        spot_max_usd_per_hour=(pool.spot_max_usd_per_hour or inst.on_demand_usd_per_hour)
        if spot
        else None,
    )


def artifact_args(env: Environment, cfg: Azure) -> ArtifactBucketArgs:
    spec = env.spec
    hybrid = given(spec.hybrid, "spec.hybrid") if spec.topology == "hybrid" else None
    return ArtifactBucketArgs(
        account_name=ids.global_name(spec.environment, cfg.subscription_id),
        location=cfg.location,
        subscription_id=cfg.subscription_id,
        namespace=spec.namespace,
        noncurrent_version_days=spec.artifacts.noncurrent_version_days,
        checkpoint_days=spec.artifacts.checkpoint_days,
        expected_gib=pricing.expected_artifact_gib(env),
        tags=naming.tags(spec),
        onprem_issuer=hybrid.onprem_oidc_issuer if hybrid is not None else None,
        # The gateway's own Postgres backs up to this bucket (kubernetes/resolve.py).
        database_backups=spec.gateway is not None
        and isinstance(spec.gateway.database, CnpgDatabase),
        # Every served model is synced into the bucket and gated from its evals/.
        model_publisher=bool(spec.models),
        trainers=tuple((job.name, job.model) for job in spec.training.jobs),
    )


def budget_args(spec: EnvironmentSpec, cfg: Azure) -> BudgetArgs:
    budget = spec.budget
    cap = [budget.hard_cap_pct] if budget.hard_cap_pct else []
    return BudgetArgs(
        budget_name=f"llm-{spec.environment}",
        short_name=fit(f"llm{spec.environment}", names.ACTION_GROUP_SHORT),
        subscription_id=cfg.subscription_id,
        environment=spec.environment,
        monthly_usd=budget.monthly_usd,
        start_date=cfg.budget_start,
        thresholds_pct=tuple(sorted({*budget.alert_thresholds_pct, *cap})),
        tags=naming.tags(spec),
        notify_emails=tuple(budget.notify_emails),
    )
