"""ModelServer: one served model on Kubernetes, whichever engine runs it."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import cost, naming
from components.kubernetes import pods
from components.kubernetes.engines import (
    ENGINES,
    HTTP_PORT,
    MODELS_MOUNT,
    SCRATCH_MOUNT,
    TritonTrtllm,
)
from components.kubernetes.facts import ArtifactStore, PoolScheduling, WorkloadIdentity
from components.kubernetes.weights_access import fetch_weights
from components.sizing import GIB, ServingPlan, weight_bytes
from components.spec import EnvironmentSpec, Model, architecture_of

QUEUE_TARGET_FRACTION = 0.1  # scale out when a tenth of max-num-seqs is waiting per pod
HF_SECRET_MOUNT = "/var/run/secrets/huggingface"


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


MODEL_POD_LABEL = "__meta_kubernetes_pod_label_" + re.sub(r"[^A-Za-z0-9]", "_", cost.MODEL_LABEL)


class ModelServer(pulumi.ComponentResource):
    """Deployment, Service, PVC, PDB, HPA, ServiceMonitor and NetworkPolicy for a model.

    Rollouts work with no spare GPU (maxSurge 0 when the pool has no headroom), readiness
    means the model is loaded, and shutdown drains streams before the pod goes.
    """

    endpoint: pulumi.Output[str]

    def __init__(
        self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:ModelServer", name, None, opts)
        spec, model, plan, pool = args.spec, args.model, args.plan, args.pool
        engine = ENGINES[model.engine.kind]
        component = "model-server"
        selector = naming.selector_labels(model.name, component)
        labels = naming.k8s_labels(
            spec, model.name, component, model=model.name, engine=engine.name
        )
        child = pulumi.ResourceOptions(parent=self)
        ns = args.namespace

        def meta(suffix: str = "", **extra) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=f"{model.name}{suffix}", namespace=ns, labels=labels, **extra
            )

        arch = architecture_of(model)
        weights_gib = weight_bytes(arch, model.quantization) / GIB if arch else 1
        pvc_gib = model.weights.size_gib or max(10, math.ceil(weights_gib * 1.5))
        pvc = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-weights",
            metadata=meta("-weights"),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=[model.weights.access_mode],
                storage_class_name=model.weights.storage_class or args.storage_class,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                    requests={"storage": f"{pvc_gib}Gi"}
                ),
            ),
            opts=child,
        )

        volumes = [
            k8s.core.v1.VolumeArgs(
                name="weights",
                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                    claim_name=pvc.metadata.name
                ),
            ),
            # NCCL and the engine's worker processes exchange tensors through /dev/shm.
            k8s.core.v1.VolumeArgs(
                name="dshm",
                empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                    medium="Memory", size_limit=f"{4 * plan.tensor_parallel}Gi"
                ),
            ),
            k8s.core.v1.VolumeArgs(
                name="scratch",
                empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="20Gi"),
            ),
        ]
        mounts = [
            k8s.core.v1.VolumeMountArgs(name="weights", mount_path=MODELS_MOUNT),
            k8s.core.v1.VolumeMountArgs(name="dshm", mount_path="/dev/shm"),
            k8s.core.v1.VolumeMountArgs(name="scratch", mount_path=SCRATCH_MOUNT),
        ]
        env = dict(engine.env())
        if model.hf_token_secret is not None:
            # A file, not an env var: env vars leak into crash dumps and `kubectl describe`.
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name="hf-token",
                    secret=k8s.core.v1.SecretVolumeSourceArgs(
                        secret_name=model.hf_token_secret.name,
                        items=[
                            k8s.core.v1.KeyToPathArgs(key=model.hf_token_secret.key, path="token")
                        ],
                        default_mode=0o440,
                    ),
                )
            )
            mounts.append(
                k8s.core.v1.VolumeMountArgs(
                    name="hf-token", mount_path=HF_SECRET_MOUNT, read_only=True
                )
            )
            env["HF_TOKEN_PATH"] = f"{HF_SECRET_MOUNT}/token"

        if isinstance(engine, TritonTrtllm):
            params = k8s.core.v1.ConfigMap(
                f"{name}-trtllm-params",
                metadata=meta("-trtllm-params"),
                data=engine.build_parameters(plan),
                opts=child,
            )
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name="trtllm-params",
                    config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=params.metadata.name),
                )
            )
            mounts.append(
                k8s.core.v1.VolumeMountArgs(
                    name="trtllm-params", mount_path="/etc/llm-platform", read_only=True
                )
            )

        ports = [k8s.core.v1.ContainerPortArgs(name="http", container_port=HTTP_PORT)]
        if engine.metrics_port != HTTP_PORT:
            ports.append(
                k8s.core.v1.ContainerPortArgs(name="metrics", container_port=engine.metrics_port)
            )
        metrics_port_name = "http" if engine.metrics_port == HTTP_PORT else "metrics"

        def probe(path: str, period: int, failures: int) -> k8s.core.v1.ProbeArgs:
            return k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port="http"),
                period_seconds=period,
                failure_threshold=failures,
                timeout_seconds=5,
            )

        tp = plan.tensor_parallel
        memory_gib = max(16, math.ceil(weights_gib) + 8)
        gpu_key = pool.gpu_resource
        init_containers = []
        pod_labels = dict(labels)
        if args.artifacts is not None and args.identity is not None:
            fetch, extra_volumes = fetch_weights(
                args.artifacts, args.identity, model.name, args.identity_files
            )
            init_containers.append(fetch)
            volumes += extra_volumes
            pod_labels.update(args.identity.pod_labels)
            # The weights are on the volume before the server starts: never reach the Hub.
            env["HF_HUB_OFFLINE"] = "1"
            model_ref = f"{MODELS_MOUNT}/{model.name}"
        else:
            model_ref = model.hf_id or f"{MODELS_MOUNT}/{model.name}"
        container = k8s.core.v1.ContainerArgs(
            name="server",
            image=model.engine.image,
            image_pull_policy="Always",
            command=engine.command(model_ref, model.name, plan),
            env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())],
            ports=ports,
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": str(4 * tp), "memory": f"{memory_gib}Gi", gpu_key: str(tp)},
                limits={"cpu": str(8 * tp), "memory": f"{memory_gib}Gi", gpu_key: str(tp)},
            ),
            volume_mounts=mounts,
            startup_probe=probe(
                engine.probes.startup_path, 10, math.ceil(plan.startup_budget_s / 10)
            ),
            readiness_probe=probe(engine.probes.ready_path, 10, 3),
            liveness_probe=probe(engine.probes.live_path, 30, 5),
            lifecycle=k8s.core.v1.LifecycleArgs(
                pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                    sleep=k8s.core.v1.SleepActionArgs(seconds=engine.shutdown(plan).prestop_s)
                )
            ),
            security_context=pods.container_security(),
        )

        # Without a free GPU for a surge pod, a surge rollout would hang Pending forever.
        headroom = pool.max_gpus - plan.replicas_max * tp
        strategy = (
            k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0)
            if headroom >= tp
            else k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=0, max_unavailable=1)
        )
        annotations = pods.digest_skip(model.engine.image)
        if args.gpu_hour_usd is not None:
            annotations[cost.GPU_HOUR_ANNOTATION] = str(args.gpu_hour_usd)
        deployment = k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata=meta(annotations=annotations),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=plan.replicas_min,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate", rolling_update=strategy
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=pod_labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=args.service_account,
                        automount_service_account_token=False,
                        enable_service_links=False,
                        termination_grace_period_seconds=engine.shutdown(plan).grace_s,
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
                        init_containers=init_containers or None,
                        containers=[container],
                        volumes=volumes,
                    ),
                ),
            ),
            # The autoscaler owns the replica count once the Deployment exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["spec.replicas"]),
        )

        svc_ports = [k8s.core.v1.ServicePortArgs(name="http", port=HTTP_PORT, target_port="http")]
        if metrics_port_name == "metrics":
            svc_ports.append(
                k8s.core.v1.ServicePortArgs(
                    name="metrics", port=engine.metrics_port, target_port="metrics"
                )
            )
        service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=meta(),
            spec=k8s.core.v1.ServiceSpecArgs(type="ClusterIP", selector=selector, ports=svc_ports),
            opts=child,
        )

        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            ),
            opts=child,
        )

        queue_target = max(1, round(plan.max_num_seqs * QUEUE_TARGET_FRACTION))
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=meta(),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=deployment.metadata.name
                ),
                min_replicas=plan.replicas_min,
                max_replicas=plan.replicas_max,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Pods",
                        pods=k8s.autoscaling.v2.PodsMetricSourceArgs(
                            metric=k8s.autoscaling.v2.MetricIdentifierArgs(
                                name=engine.queue_metric
                            ),
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="AverageValue", average_value=str(queue_target)
                            ),
                        ),
                    )
                ],
                # A new replica takes up to the startup budget to serve; deciding faster
                # than that would flap, so both windows outlast a model load.
                behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                    scale_up=k8s.autoscaling.v2.HPAScalingRulesArgs(
                        stabilization_window_seconds=min(3600, plan.startup_budget_s),
                        policies=[
                            k8s.autoscaling.v2.HPAScalingPolicyArgs(
                                type="Pods",
                                value=1,
                                period_seconds=min(1800, plan.startup_budget_s),
                            )
                        ],
                    ),
                    scale_down=k8s.autoscaling.v2.HPAScalingRulesArgs(
                        stabilization_window_seconds=min(3600, 2 * plan.startup_budget_s),
                        policies=[
                            k8s.autoscaling.v2.HPAScalingPolicyArgs(
                                type="Pods", value=1, period_seconds=300
                            )
                        ],
                    ),
                ),
            ),
            opts=child,
        )

        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=model.name,
                namespace=ns,
                labels={**labels, **naming.monitoring_labels(spec)},
            ),
            spec={
                "selector": {"matchLabels": selector},
                "namespaceSelector": {"matchNames": [ns]},
                "endpoints": [
                    {
                        "port": metrics_port_name,
                        "path": "/metrics",
                        "interval": "15s",
                        # Every rule and dashboard selects a model by this one label,
                        # whatever the engine calls it.
                        "relabelings": [
                            {
                                "sourceLabels": [MODEL_POD_LABEL],
                                "targetLabel": "model",
                                "action": "replace",
                            }
                        ],
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.crds_ready)),
        )

        prometheus_peer = pods.prometheus_peer(spec)
        gateway_peer = k8s.networking.v1.NetworkPolicyPeerArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels={"app.kubernetes.io/component": "gateway"}
            ),
        )
        ingress = [
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[gateway_peer, prometheus_peer]
                if metrics_port_name == "http"
                else [gateway_peer],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=HTTP_PORT, protocol="TCP")],
            )
        ]
        if metrics_port_name == "metrics":
            ingress.append(
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[prometheus_peer],
                    ports=[
                        k8s.networking.v1.NetworkPolicyPortArgs(
                            port=engine.metrics_port, protocol="TCP"
                        )
                    ],
                )
            )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=meta(),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                policy_types=["Ingress"],
                ingress=ingress,
            ),
            opts=child,
        )

        self.endpoint = pulumi.Output.concat(
            "http://", service.metadata.name, ".", ns, ".svc:", str(HTTP_PORT), engine.api_path
        )
        self.register_outputs({"endpoint": self.endpoint})
