"""The server pod: its volumes, the engine's container and the Deployment around it. Pure
builders: they return Pulumi Args."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import conventions, naming, scheduling
from components.engines import HTTP_PORT, MODELS_MOUNT, SCRATCH_MOUNT
from components.kubernetes import pods
from components.kubernetes.model_server import weights as w
from components.kubernetes.model_server.args import ModelServerArgs
from components.kubernetes.model_server.network import metrics_port_name

# Where the engine's config_files are mounted.
ENGINE_CONFIG_MOUNT = "/etc/llm-platform"
COMPONENT = "model-server"

core = k8s.core.v1


@dataclass
class PodParts:
    """What the pod is assembled from, gathered by `pod_parts`."""

    volumes: list[core.VolumeArgs] = field(default_factory=list)
    mounts: list[core.VolumeMountArgs] = field(default_factory=list)
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    init_containers: list[core.ContainerArgs] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    model_ref: str = ""
    # The Hub commit the engine downloads model_ref at; None when model_ref is a directory.
    hub_revision: str | None = None


def base_parts(args: ModelServerArgs, weights: core.VolumeArgs) -> PodParts:
    return PodParts(
        volumes=[
            weights,
            # NCCL and the engine's worker processes exchange tensors through /dev/shm.
            core.VolumeArgs(
                name="dshm",
                empty_dir=core.EmptyDirVolumeSourceArgs(
                    medium="Memory",
                    size_limit=f"{scheduling.shm_mib(args.plan.tensor_parallel)}Mi",
                ),
            ),
            core.VolumeArgs(
                name="scratch", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="20Gi")
            ),
        ],
        mounts=[
            core.VolumeMountArgs(name="weights", mount_path=MODELS_MOUNT),
            core.VolumeMountArgs(name="dshm", mount_path="/dev/shm"),
            core.VolumeMountArgs(name="scratch", mount_path=SCRATCH_MOUNT),
        ],
        env=dict(args.engine.env()),
    )


def add_engine_config(parts: PodParts, config_map: pulumi.Input[str]) -> None:
    parts.volumes.append(
        core.VolumeArgs(
            name="engine-config", config_map=core.ConfigMapVolumeSourceArgs(name=config_map)
        )
    )
    parts.mounts.append(
        core.VolumeMountArgs(name="engine-config", mount_path=ENGINE_CONFIG_MOUNT, read_only=True)
    )


def add_model_source(parts: PodParts, args: ModelServerArgs) -> None:
    """Where the weights come from: the pinned revision copied from the store by an init
    container into <model>/<revision> on the weights volume, already on a read-only claim, or
    downloaded from the Hub at the pinned revision by the engine into the weights volume."""
    source, revision = args.weights, args.version.revision if args.version else None
    local = f"{MODELS_MOUNT}/{args.name}"
    if source.fetch is not None:
        weights_dir = w.revision_dir(args.name, revision)
        volumes, mounts = w.fetch_volumes(source.fetch)
        parts.init_containers.append(w.fetch_container(source.fetch, weights_dir, mounts))
        parts.volumes += volumes
        if source.fetch.identity is not None:
            parts.labels.update(source.fetch.identity.pod_labels)
        local = f"{MODELS_MOUNT}/{weights_dir}"
    if source.offline:
        parts.env["HF_HUB_OFFLINE"] = "1"
        parts.model_ref = local
    elif args.engine.hub_download and source.hf_id:
        parts.model_ref, parts.hub_revision = source.hf_id, revision
    else:
        parts.model_ref = local


def add_model_version(parts: PodParts, args: ModelServerArgs) -> None:
    """The revision's labels on every pod (never in the selector: a Deployment's selector is
    immutable), and, where the weights were fetched from a signed store, the verify init
    container after the fetch, so the engine never loads bytes the signature does not
    cover."""
    version = args.version
    if version is None:
        return
    parts.labels[conventions.REVISION_LABEL] = version.revision
    parts.labels[conventions.SERVING_LABEL] = conventions.SERVING_LIVE
    if version.public_key_config_map is None or args.weights.fetch is None:
        return
    parts.volumes.append(w.public_key_volume(version.public_key_config_map))
    weights_dir = w.revision_dir(args.name, version.revision)
    parts.init_containers.append(w.verify_container(version, args.name, weights_dir))


def pod_parts(
    args: ModelServerArgs,
    claim: pulumi.Input[str] | None,
    engine_config: pulumi.Input[str] | None,
) -> PodParts:
    """Volumes, mounts, environment and init containers: the weights volume (on `claim`,
    when shared), the token file, the engine's config files and the weights' source."""
    parts = base_parts(args, w.weights_volume(args.weights, args.labels, claim))
    if args.weights.hf_token is not None:
        volume, mount, env = w.hf_token_file(args.weights.hf_token)
        parts.volumes.append(volume)
        parts.mounts.append(mount)
        parts.env.update(env)
    if engine_config is not None:
        add_engine_config(parts, engine_config)
    add_model_source(parts, args)
    add_model_version(parts, args)
    return parts


def server_resources(args: ModelServerArgs) -> core.ResourceRequirementsArgs:
    gpus = {args.pool.gpu_resource: str(args.plan.tensor_parallel)}
    return core.ResourceRequirementsArgs(
        requests={**args.resources.requests.quantities(), **gpus},
        limits={**args.resources.limits.quantities(), **gpus},
    )


def container_ports(args: ModelServerArgs) -> list[core.ContainerPortArgs]:
    ports = [core.ContainerPortArgs(name="http", container_port=HTTP_PORT)]
    if metrics_port_name(args.engine) == "metrics":
        ports.append(
            core.ContainerPortArgs(name="metrics", container_port=args.engine.metrics_port)
        )
    return ports


def server_container(args: ModelServerArgs, parts: PodParts) -> core.ContainerArgs:
    engine, plan = args.engine, args.plan
    return core.ContainerArgs(
        name="server",
        image=args.image,
        image_pull_policy="Always",
        command=engine.command(parts.model_ref, args.name, plan, parts.hub_revision),
        env=[core.EnvVarArgs(name=k, value=v) for k, v in sorted(parts.env.items())],
        ports=container_ports(args),
        resources=server_resources(args),
        volume_mounts=parts.mounts,
        startup_probe=pods.http_probe(
            engine.probes.startup_path, 10, math.ceil(plan.startup_budget_s / 10)
        ),
        readiness_probe=pods.http_probe(engine.probes.ready_path, 10, 3),
        liveness_probe=pods.http_probe(engine.probes.live_path, 30, 5),
        lifecycle=core.LifecycleArgs(
            pre_stop=core.LifecycleHandlerArgs(
                sleep=core.SleepActionArgs(seconds=engine.shutdown(plan).prestop_s)
            )
        ),
        security_context=pods.container_security(),
    )


def pod_spec(args: ModelServerArgs, parts: PodParts) -> core.PodSpecArgs:
    pool = args.pool
    selector = naming.selector_labels(args.name, COMPONENT)
    return core.PodSpecArgs(
        service_account_name=args.service_account,
        automount_service_account_token=False,
        enable_service_links=False,
        termination_grace_period_seconds=args.engine.shutdown(args.plan).grace_s,
        node_selector=pool.node_selector,
        tolerations=[core.TolerationArgs(**t) for t in pool.tolerations],
        topology_spread_constraints=[
            core.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key=conventions.HOSTNAME_LABEL,
                when_unsatisfiable="ScheduleAnyway",
                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            )
        ],
        security_context=pods.pod_security(),
        init_containers=parts.init_containers or None,
        containers=[server_container(args, parts)],
        volumes=parts.volumes,
    )


def rollout_strategy(args: ModelServerArgs) -> k8s.apps.v1.RollingUpdateDeploymentArgs:
    """Surge only into a GPU the autoscaler can never take; otherwise replace in place. A
    surge pod may start on any node: the spec refuses weights it could not mount there."""
    plan = args.plan
    if scheduling.can_surge(args.pool.max_gpus, plan.replicas_max, plan.tensor_parallel):
        return k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0)
    return k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=0, max_unavailable=1)


def deployment_spec(args: ModelServerArgs, parts: PodParts) -> k8s.apps.v1.DeploymentSpecArgs:
    selector = naming.selector_labels(args.name, COMPONENT)
    return k8s.apps.v1.DeploymentSpecArgs(
        replicas=args.plan.replicas_min,
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
        strategy=k8s.apps.v1.DeploymentStrategyArgs(
            type="RollingUpdate", rolling_update=rollout_strategy(args)
        ),
        template=core.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels={**args.labels, **parts.labels}),
            spec=pod_spec(args, parts),
        ),
    )


def deployment_annotations(args: ModelServerArgs) -> dict[str, str]:
    annotations = pods.digest_skip(args.image)
    if args.gpu_hour_usd is not None:
        # The cost model prices the server's GPU-hours at this rate (components/pricing.py).
        annotations[conventions.GPU_HOUR_ANNOTATION] = str(args.gpu_hour_usd)
    return annotations
