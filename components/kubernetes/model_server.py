"""ModelServer: one served model on Kubernetes, whichever engine runs it.

The component only creates the objects; what goes in them comes from the pure builders
below (the weights volume, the server container, the pod, the rollout, the autoscaler).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import naming, pricing, scheduling
from components.engines import (
    ENGINES,
    HTTP_PORT,
    MODELS_MOUNT,
    SCRATCH_MOUNT,
    Engine,
)
from components.kubernetes import pods
from components.kubernetes.facts import ArtifactStore, PoolScheduling, WorkloadIdentity
from components.kubernetes.weights_access import fetch_weights
from components.sizing import GIB, ServingPlan, weight_bytes
from components.spec import EnvironmentSpec, Model, architecture_of

QUEUE_TARGET_FRACTION = 0.1  # scale out when a tenth of max-num-seqs is waiting per pod
HF_SECRET_MOUNT = "/var/run/secrets/huggingface"
TRTLLM_PARAMS_MOUNT = "/etc/llm-platform"

MODEL_POD_LABEL = "__meta_kubernetes_pod_label_" + re.sub(r"[^A-Za-z0-9]", "_", pricing.MODEL_LABEL)


@dataclass(frozen=True)
class ModelServerArgs:
    spec: EnvironmentSpec
    model: Model
    plan: ServingPlan
    namespace: pulumi.Input[str]
    pool: PoolScheduling
    storage_class: str | None
    gpu_hour_usd: float | None
    # Set where weights come from the environment's bucket rather than the Hugging Face Hub.
    artifacts: ArtifactStore | None = None
    identity: WorkloadIdentity | None = None
    service_account: pulumi.Input[str] | None = None
    identity_files: pulumi.Input[str] | None = None
    crds_ready: tuple[pulumi.Resource, ...] = ()  # the release installing the CRDs


@dataclass
class PodParts:
    """What the pod is assembled from, gathered by the builders below."""

    volumes: list[k8s.core.v1.VolumeArgs] = field(default_factory=list)
    mounts: list[k8s.core.v1.VolumeMountArgs] = field(default_factory=list)
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    init_containers: list[k8s.core.v1.ContainerArgs] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    model_ref: str = ""


def weights_size_gib(model: Model) -> int:
    arch = architecture_of(model)
    weights_gib = weight_bytes(arch, model.quantization) / GIB if arch else 1
    return model.weights.size_gib or max(10, math.ceil(weights_gib * 1.5))


def shared_claim_spec(
    model: Model, storage_class: str | None
) -> k8s.core.v1.PersistentVolumeClaimSpecArgs:
    return k8s.core.v1.PersistentVolumeClaimSpecArgs(
        access_modes=[model.weights.shared_access_mode],
        storage_class_name=model.weights.storage_class or storage_class,
        resources=k8s.core.v1.VolumeResourceRequirementsArgs(
            requests={"storage": f"{weights_size_gib(model)}Gi"}
        ),
    )


def weights_volume(
    model: Model,
    storage_class: str | None,
    labels: dict[str, str],
    claim: pulumi.Input[str] | None,
) -> k8s.core.v1.VolumeArgs:
    """The shared claim, or a generic ephemeral volume: a ReadWriteOnce claim made for each
    pod on whichever node it lands and deleted with it, so a surge pod never waits for a
    disk attached elsewhere."""
    if claim is not None:
        return k8s.core.v1.VolumeArgs(
            name="weights",
            persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                claim_name=claim
            ),
        )
    spec = shared_claim_spec(model, storage_class)
    return k8s.core.v1.VolumeArgs(
        name="weights",
        ephemeral=k8s.core.v1.EphemeralVolumeSourceArgs(
            volume_claim_template=k8s.core.v1.PersistentVolumeClaimTemplateArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                    access_modes=["ReadWriteOnce"],
                    storage_class_name=spec.storage_class_name,
                    resources=spec.resources,
                ),
            )
        ),
    )


def base_parts(plan: ServingPlan, weights: k8s.core.v1.VolumeArgs, engine: Engine) -> PodParts:
    return PodParts(
        volumes=[
            weights,
            # NCCL and the engine's worker processes exchange tensors through /dev/shm.
            k8s.core.v1.VolumeArgs(
                name="dshm",
                empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                    medium="Memory",
                    size_limit=f"{scheduling.shm_mib(plan.tensor_parallel)}Mi",
                ),
            ),
            k8s.core.v1.VolumeArgs(
                name="scratch",
                empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="20Gi"),
            ),
        ],
        mounts=[
            k8s.core.v1.VolumeMountArgs(name="weights", mount_path=MODELS_MOUNT),
            k8s.core.v1.VolumeMountArgs(name="dshm", mount_path="/dev/shm"),
            k8s.core.v1.VolumeMountArgs(name="scratch", mount_path=SCRATCH_MOUNT),
        ],
        env=dict(engine.env()),
    )


def add_hf_token(parts: PodParts, model: Model) -> None:
    """A file, not an env var: env vars leak into crash dumps and `kubectl describe`."""
    secret = model.hf_token_secret
    if secret is None:
        return
    parts.volumes.append(
        k8s.core.v1.VolumeArgs(
            name="hf-token",
            secret=k8s.core.v1.SecretVolumeSourceArgs(
                secret_name=secret.name,
                items=[k8s.core.v1.KeyToPathArgs(key=secret.key, path="token")],
                default_mode=0o440,
            ),
        )
    )
    parts.mounts.append(
        k8s.core.v1.VolumeMountArgs(name="hf-token", mount_path=HF_SECRET_MOUNT, read_only=True)
    )
    parts.env["HF_TOKEN_PATH"] = f"{HF_SECRET_MOUNT}/token"


def add_model_source(parts: PodParts, args: ModelServerArgs) -> None:
    """Where the weights come from: copied from the bucket by an init container, already on
    a read-only claim, or downloaded from the Hub by the engine into the weights volume."""
    model = args.model
    local = f"{MODELS_MOUNT}/{model.name}"
    prefilled = model.weights.volume == "shared" and model.weights.access_mode == "ReadOnlyMany"
    if args.artifacts is not None and args.identity is not None and not prefilled:
        fetch, extra_volumes = fetch_weights(
            args.artifacts, args.identity, model.name, args.identity_files
        )
        parts.init_containers.append(fetch)
        parts.volumes += extra_volumes
        parts.labels.update(args.identity.pod_labels)
    if prefilled or parts.init_containers:
        # The weights are on the volume before the server starts: never reach the Hub.
        parts.env["HF_HUB_OFFLINE"] = "1"
        parts.model_ref = local
    else:
        parts.model_ref = model.hf_id or local


def add_trtllm_params(parts: PodParts, config_map: pulumi.Input[str]) -> None:
    parts.volumes.append(
        k8s.core.v1.VolumeArgs(
            name="trtllm-params",
            config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=config_map),
        )
    )
    parts.mounts.append(
        k8s.core.v1.VolumeMountArgs(
            name="trtllm-params", mount_path=TRTLLM_PARAMS_MOUNT, read_only=True
        )
    )


def metrics_port_name(engine: Engine) -> str:
    return "http" if engine.metrics_port == HTTP_PORT else "metrics"


def server_resources(
    spec: EnvironmentSpec, model: Model, plan: ServingPlan, gpu_resource: str
) -> k8s.core.v1.ResourceRequirementsArgs:
    """CPU and memory from the pool's nodes (components/scheduling.py); GPUs by TP."""
    pool = spec.pool(model.pool)
    sized = scheduling.model_pod_resources(
        scheduling.pool_allocatable(spec, pool),
        pool.gpus_per_node,
        plan.tensor_parallel,
        scheduling.gpu_daemonsets(spec, pool),
    )
    gpus = {gpu_resource: str(plan.tensor_parallel)}
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={**sized.requests.quantities(), **gpus},
        limits={**sized.limits.quantities(), **gpus},
    )


def server_container(
    args: ModelServerArgs, engine: Engine, parts: PodParts
) -> k8s.core.v1.ContainerArgs:
    model, plan = args.model, args.plan
    prestop_s = engine.shutdown(plan).prestop_s

    def probe(path: str, period: int, failures: int) -> k8s.core.v1.ProbeArgs:
        return k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port="http"),
            period_seconds=period,
            failure_threshold=failures,
            timeout_seconds=5,
        )

    ports = [k8s.core.v1.ContainerPortArgs(name="http", container_port=HTTP_PORT)]
    if metrics_port_name(engine) == "metrics":
        ports.append(
            k8s.core.v1.ContainerPortArgs(name="metrics", container_port=engine.metrics_port)
        )
    return k8s.core.v1.ContainerArgs(
        name="server",
        image=model.engine.image,
        image_pull_policy="Always",
        command=engine.command(parts.model_ref, model.name, plan),
        env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(parts.env.items())],
        ports=ports,
        resources=server_resources(args.spec, model, plan, args.pool.gpu_resource),
        volume_mounts=parts.mounts,
        startup_probe=probe(engine.probes.startup_path, 10, math.ceil(plan.startup_budget_s / 10)),
        readiness_probe=probe(engine.probes.ready_path, 10, 3),
        liveness_probe=probe(engine.probes.live_path, 30, 5),
        lifecycle=k8s.core.v1.LifecycleArgs(
            pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                sleep=k8s.core.v1.SleepActionArgs(seconds=prestop_s)
            )
        ),
        security_context=pods.container_security(),
    )


def rollout_strategy(
    pool: PoolScheduling, plan: ServingPlan
) -> k8s.apps.v1.RollingUpdateDeploymentArgs:
    """Surge only into a GPU the autoscaler can never take; otherwise replace in place. A
    surge pod may start on any node: the spec refuses weights it could not mount there."""
    if scheduling.can_surge(pool.max_gpus, plan.replicas_max, plan.tensor_parallel):
        return k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0)
    return k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=0, max_unavailable=1)


def pod_spec(
    args: ModelServerArgs, container: k8s.core.v1.ContainerArgs, parts: PodParts
) -> k8s.core.v1.PodSpecArgs:
    pool = args.pool
    selector = naming.selector_labels(args.model.name, "model-server")
    grace_s = ENGINES[args.model.engine.kind].shutdown(args.plan).grace_s
    return k8s.core.v1.PodSpecArgs(
        service_account_name=args.service_account,
        automount_service_account_token=False,
        enable_service_links=False,
        termination_grace_period_seconds=grace_s,
        node_selector=pool.node_selector,
        tolerations=[k8s.core.v1.TolerationArgs(**t) for t in pool.tolerations],
        topology_spread_constraints=[
            k8s.core.v1.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key="kubernetes.io/hostname",
                when_unsatisfiable="ScheduleAnyway",
                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            )
        ],
        security_context=pods.pod_security(),
        init_containers=parts.init_containers or None,
        containers=[container],
        volumes=parts.volumes,
    )


def deployment_spec(
    args: ModelServerArgs, pod: k8s.core.v1.PodSpecArgs, pod_labels: dict[str, str]
) -> k8s.apps.v1.DeploymentSpecArgs:
    selector = naming.selector_labels(args.model.name, "model-server")
    return k8s.apps.v1.DeploymentSpecArgs(
        replicas=args.plan.replicas_min,
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
        strategy=k8s.apps.v1.DeploymentStrategyArgs(
            type="RollingUpdate", rolling_update=rollout_strategy(args.pool, args.plan)
        ),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=pod_labels), spec=pod
        ),
    )


def hpa_spec(
    plan: ServingPlan, engine: Engine, deployment: pulumi.Input[str]
) -> k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs:
    """Scale on queue depth. A new replica takes up to the startup budget to serve; deciding
    faster than that would flap, so both windows outlast a model load."""
    queue_target = max(1, round(plan.max_num_seqs * QUEUE_TARGET_FRACTION))
    hpa = k8s.autoscaling.v2
    return hpa.HorizontalPodAutoscalerSpecArgs(
        scale_target_ref=hpa.CrossVersionObjectReferenceArgs(
            api_version="apps/v1", kind="Deployment", name=deployment
        ),
        min_replicas=plan.replicas_min,
        max_replicas=plan.replicas_max,
        metrics=[
            hpa.MetricSpecArgs(
                type="Pods",
                pods=hpa.PodsMetricSourceArgs(
                    metric=hpa.MetricIdentifierArgs(name=engine.queue_metric),
                    target=hpa.MetricTargetArgs(
                        type="AverageValue", average_value=str(queue_target)
                    ),
                ),
            )
        ],
        behavior=hpa.HorizontalPodAutoscalerBehaviorArgs(
            scale_up=hpa.HPAScalingRulesArgs(
                stabilization_window_seconds=min(3600, plan.startup_budget_s),
                policies=[
                    hpa.HPAScalingPolicyArgs(
                        type="Pods", value=1, period_seconds=min(1800, plan.startup_budget_s)
                    )
                ],
            ),
            scale_down=hpa.HPAScalingRulesArgs(
                stabilization_window_seconds=min(3600, 2 * plan.startup_budget_s),
                policies=[hpa.HPAScalingPolicyArgs(type="Pods", value=1, period_seconds=300)],
            ),
        ),
    )


def service_monitor_spec(
    selector: dict[str, str], namespace: pulumi.Input[str], engine: Engine
) -> dict:
    return {
        "selector": {"matchLabels": selector},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [
            {
                "port": metrics_port_name(engine),
                "path": "/metrics",
                "interval": "15s",
                # Every rule and dashboard selects a model by this one label, whatever the
                # engine calls it.
                "relabelings": [
                    {
                        "sourceLabels": [MODEL_POD_LABEL],
                        "targetLabel": "model",
                        "action": "replace",
                    }
                ],
            }
        ],
    }


def network_policy_spec(
    spec: EnvironmentSpec, selector: dict[str, str], engine: Engine
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """Only the gateway reaches the API; only Prometheus reaches the metrics."""
    net = k8s.networking.v1
    prometheus = pods.prometheus_peer(spec)
    gateway = net.NetworkPolicyPeerArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(
            match_labels={"app.kubernetes.io/component": "gateway"}
        ),
    )
    separate = metrics_port_name(engine) == "metrics"
    ingress = [
        net.NetworkPolicyIngressRuleArgs(
            from_=[gateway] if separate else [gateway, prometheus],
            ports=[net.NetworkPolicyPortArgs(port=HTTP_PORT, protocol="TCP")],
        )
    ]
    if separate:
        ingress.append(
            net.NetworkPolicyIngressRuleArgs(
                from_=[prometheus],
                ports=[net.NetworkPolicyPortArgs(port=engine.metrics_port, protocol="TCP")],
            )
        )
    return net.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress"],
        ingress=ingress,
    )


def service_ports(engine: Engine) -> list[k8s.core.v1.ServicePortArgs]:
    ports = [k8s.core.v1.ServicePortArgs(name="http", port=HTTP_PORT, target_port="http")]
    if metrics_port_name(engine) == "metrics":
        ports.append(
            k8s.core.v1.ServicePortArgs(
                name="metrics", port=engine.metrics_port, target_port="metrics"
            )
        )
    return ports


class ModelServer(pulumi.ComponentResource):
    """Deployment, Service, weights, PDB, HPA, ServiceMonitor and NetworkPolicy for a model.

    Rollouts work with no spare GPU (maxSurge 0 when the pool has no headroom), readiness
    means the model is loaded, and shutdown drains streams before the pod goes.
    """

    endpoint: pulumi.Output[str]

    def __init__(
        self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:ModelServer", name, None, opts)
        model, engine = args.model, ENGINES[args.model.engine.kind]
        selector = naming.selector_labels(model.name, "model-server")
        labels = naming.k8s_labels(
            args.spec, model.name, "model-server", model=model.name, engine=engine.name
        )
        ns = args.namespace
        self._labels, self._ns, self._model = labels, ns, model.name
        parts = self._pod_parts(name, args, engine)
        annotations = pods.digest_skip(model.engine.image)
        if args.gpu_hour_usd is not None:
            annotations[pricing.GPU_HOUR_ANNOTATION] = str(args.gpu_hour_usd)
        pod = pod_spec(args, server_container(args, engine, parts), parts)
        deployment = k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata=self._meta(annotations=annotations),
            spec=deployment_spec(args, pod, {**labels, **parts.labels}),
            # The autoscaler owns the replica count once the Deployment exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["spec.replicas"]),
        )
        self._serving_objects(name, args, engine, selector, deployment)
        service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=self._meta(),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP", selector=selector, ports=service_ports(engine)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.endpoint = pulumi.Output.concat(
            "http://", service.metadata.name, ".", ns, ".svc:", str(HTTP_PORT), engine.api_path
        )
        self.register_outputs({"endpoint": self.endpoint})

    def _meta(self, suffix: str = "", **extra) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=f"{self._model}{suffix}", namespace=self._ns, labels=self._labels, **extra
        )

    def _pod_parts(self, name: str, args: ModelServerArgs, engine: Engine) -> PodParts:
        model = args.model
        child = pulumi.ResourceOptions(parent=self)
        claim = None
        if model.weights.volume == "shared":
            claim = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-weights",
                metadata=self._meta("-weights"),
                spec=shared_claim_spec(model, args.storage_class),
                opts=child,
            ).metadata.name
        volume = weights_volume(model, args.storage_class, self._labels, claim)
        parts = base_parts(args.plan, volume, engine)
        add_hf_token(parts, model)
        if files := engine.config_files(args.plan):
            params = k8s.core.v1.ConfigMap(
                f"{name}-trtllm-params",
                metadata=self._meta("-trtllm-params"),
                data=files,
                opts=child,
            )
            add_trtllm_params(parts, params.metadata.name)
        add_model_source(parts, args)
        return parts

    def _serving_objects(
        self,
        name: str,
        args: ModelServerArgs,
        engine: Engine,
        selector: dict[str, str],
        deployment: k8s.apps.v1.Deployment,
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=self._meta(),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            ),
            opts=child,
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=self._meta(),
            spec=hpa_spec(args.plan, engine, deployment.metadata.name),
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.model.name,
                namespace=self._ns,
                labels={**self._labels, **naming.monitoring_labels(args.spec)},
            ),
            spec=service_monitor_spec(selector, self._ns, engine),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.crds_ready)),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=self._meta(),
            spec=network_policy_spec(args.spec, selector, engine),
            opts=child,
        )
