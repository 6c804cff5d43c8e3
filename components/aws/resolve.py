"""The one place the aws package reads the validated spec: it turns the Environment into
the narrow Args its components take (args.py). spec.check has already refused whatever
these Args could not hold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pulumi

from components import catalog, naming, pricing
from components.aws import names
from components.aws.args import (
    ArtifactBucketArgs,
    AutoscalerPins,
    AwsFoundationArgs,
    BudgetArgs,
    ClusterArgs,
    EnforcerArgs,
    NetworkArgs,
    NodeGroupArgs,
    VpnArgs,
)
from components.conventions import POOL_LABEL
from components.kubernetes.facts import PoolScheduling, node_labels, pool_scheduling
from components.naming import fit
from components.spec import (
    CnpgDatabase,
    Environment,
    EnvironmentSpec,
    GpuPool,
    TrainingJob,
    Vpn,
    given,
)

if TYPE_CHECKING:  # the Aws block's home may move; only its attributes are read here
    from components.spec import Aws

SYSTEM_LABELS = {POOL_LABEL: "system"}


def foundation_args(
    env: Environment, secrets: dict[str, pulumi.Input[str]]
) -> AwsFoundationArgs:
    spec = env.spec
    cfg = _aws(spec)
    cluster_name = fit(f"llm-{spec.environment}", names.EKS_CLUSTER)
    tags = naming.tags(spec)
    # Neither the NVIDIA AMI nor SPOT capacity adds a taint of its own on EKS.
    scheduling = pool_scheduling(spec.cloud_pools())
    return AwsFoundationArgs(
        region=cfg.region,
        account_id=cfg.account_id,
        network=NetworkArgs(
            cluster_name=cluster_name,
            zones=tuple(cfg.zones),
            region=cfg.region,
            account_id=cfg.account_id,
            cidr=cfg.vpc_cidr,
            nat=cfg.nat,
            flow_log_retention_days=cfg.log_retention_days,
            tags=tags,
        ),
        cluster=cluster_args(spec, cfg, cluster_name),
        system_nodes=system_nodes(cfg, tags),
        gpu_pools={
            pool.name: gpu_nodes(
                pool, env.pool_gpus_min(pool.name), scheduling[pool.name], tags,
                env.spec.training.jobs,
            )
            for pool in spec.cloud_pools()
        },
        scheduling=scheduling,
        bucket=bucket_args(env, cfg),
        budget=budget_args(spec, cfg, cluster_name),
        vpn=vpn_args(spec, secrets),
    )


def _aws(spec: EnvironmentSpec) -> Aws:
    return given(spec.aws, "spec.aws")


def cluster_args(spec: EnvironmentSpec, cfg: Aws, cluster_name: str) -> ClusterArgs:
    pins = catalog.kubernetes_version("eks", cfg.kubernetes_version)
    if pins is None or not pins.cluster_autoscaler_chart or not pins.cluster_autoscaler_image:
        # spec.check refuses a version without a catalog row; a test requires the pins.
        raise ValueError(f"no cluster-autoscaler pins for EKS {cfg.kubernetes_version}")
    return ClusterArgs(
        cluster_name=cluster_name,
        region=cfg.region,
        version=cfg.kubernetes_version,
        autoscaler=AutoscalerPins(pins.cluster_autoscaler_chart, pins.cluster_autoscaler_image),
        namespace=spec.namespace,
        account_id=cfg.account_id,
        storage_class_labels=naming.k8s_labels(spec, "storage", "storage-class"),
        public_endpoint_cidrs=tuple(cfg.public_endpoint_cidrs),
        extended_support=cfg.extended_support,
        log_retention_days=cfg.log_retention_days,
        tags=naming.tags(spec),
        # The cloud's own pools (in a hybrid too: its training pools are here).
        spot_pools=any(pool.capacity == "spot" for pool in spec.cloud_pools()),
    )


def system_nodes(cfg: Aws, tags: dict[str, str]) -> NodeGroupArgs:
    """The CPU group for the platform's own pods: a fixed size, on demand."""
    hours = cfg.system_nodes * pricing.HOURS_PER_MONTH
    return NodeGroupArgs(
        instance_types=(cfg.system_instance_type,),
        min_size=cfg.system_nodes,
        max_size=cfg.system_nodes,
        desired_size=cfg.system_nodes,
        labels=dict(SYSTEM_LABELS),
        tags={**tags, pricing.NODE_HOURS_TAG: str(hours)},
    )


def gpu_nodes(
    pool: GpuPool,
    gpus_min: int,
    scheduling: PoolScheduling,
    tags: dict[str, str],
    jobs: Sequence[TrainingJob] = (),
) -> NodeGroupArgs:
    """A GPU pool's group: sized for the models' minimum replicas at creation, and tagged
    with the node-hours and purpose the cost estimate reads."""
    hours = pricing.node_hours(pool, gpus_min, jobs)
    instance_type = given(pool.instance_type, f"gpu_pools {pool.name} instance_type")
    return NodeGroupArgs(
        instance_types=(instance_type, *pool.extra_instance_types),
        min_size=pool.min_nodes,
        max_size=pool.max_nodes,
        desired_size=pricing.steady_nodes(pool, gpus_min),
        labels=node_labels(pool),
        gpu=True,
        capacity_type="SPOT" if pool.capacity == "spot" else "ON_DEMAND",
        taints=tuple(scheduling.platform_taints),
        tags={
            **tags,
            pricing.NODE_HOURS_TAG: str(hours),
            **pricing.pool_tags(pool, hours),
        },
    )


def bucket_args(env: Environment, cfg: Aws) -> ArtifactBucketArgs:
    spec = env.spec
    return ArtifactBucketArgs(
        bucket_name=fit(f"llm-{spec.environment}-artifacts-{cfg.account_id}", names.S3_BUCKET),
        region=cfg.region,
        namespace=spec.namespace,
        expected_gib=pricing.expected_artifact_gib(env),
        account_id=cfg.account_id,
        access_log_bucket_name=fit(
            f"llm-{spec.environment}-access-logs-{cfg.account_id}", names.S3_BUCKET
        ),
        # The request record is an audit log like the CloudWatch ones: the same retention.
        access_log_days=cfg.log_retention_days,
        noncurrent_version_days=spec.artifacts.noncurrent_version_days,
        checkpoint_days=spec.artifacts.checkpoint_days,
        # In a hybrid the models are served on prem, so the bucket trusts that cluster.
        onprem_oidc_issuer=_onprem_issuer(spec),
        tags=naming.tags(spec),
        # The gateway's own Postgres backs up to this bucket (kubernetes/resolve.py).
        database_backups=spec.gateway is not None
        and isinstance(spec.gateway.database, CnpgDatabase),
        # Every served model is synced into the bucket and gated from its evals/.
        model_publisher=bool(spec.models),
        trainers=trainers(spec),
    )


def trainers(spec: EnvironmentSpec) -> tuple[tuple[str, str], ...]:
    """(job, model) of each training job: each gets its own writer role."""
    return tuple((job.name, job.model) for job in spec.training.jobs)


def vpn_args(spec: EnvironmentSpec, secrets: dict[str, pulumi.Input[str]]) -> VpnArgs | None:
    """The VPN of a hybrid whose link is one (an existing link needs nothing here)."""
    link = spec.hybrid.connectivity if spec.hybrid else None
    if not isinstance(link, Vpn):
        return None
    return VpnArgs(
        peer_ip=link.peer_ip,
        shared_key=secrets[link.shared_key_secret],
        bgp_asn=link.bgp_asn,
        tags=naming.tags(spec),
    )


def _onprem_issuer(spec: EnvironmentSpec) -> str | None:
    if spec.topology != "hybrid" or spec.hybrid is None:
        return None
    return spec.hybrid.onprem_oidc_issuer


def budget_args(spec: EnvironmentSpec, cfg: Aws, cluster_name: str) -> BudgetArgs:
    """The budget notifies at each alert threshold and at the hard cap, when there is one."""
    budget = spec.budget
    name = f"llm-{spec.environment}"
    thresholds = list(budget.alert_thresholds_pct)
    if budget.hard_cap_pct is not None and budget.hard_cap_pct not in thresholds:
        thresholds = sorted([*thresholds, budget.hard_cap_pct])
    enforcer = None
    if budget.hard_cap_usd is not None:
        enforcer = EnforcerArgs(
            function_name=fit(f"{name}-enforcer", names.LAMBDA_FUNCTION),
            cluster_name=cluster_name,
            environment=spec.environment,
            region=cfg.region,
            account_id=cfg.account_id,
            hard_cap_usd=budget.hard_cap_usd,
            state_prefix=f"/llm-platform/{spec.environment}/budget-enforcer",
            log_retention_days=cfg.log_retention_days,
        )
    return BudgetArgs(
        budget_name=name,
        account_id=cfg.account_id,
        environment=spec.environment,
        monthly_usd=budget.monthly_usd,
        thresholds_pct=tuple(thresholds),
        notify_emails=tuple(budget.notify_emails),
        activate_cost_allocation_tag=cfg.activate_cost_allocation_tag,
        enforcer=enforcer,
        tags=naming.tags(spec),
    )
