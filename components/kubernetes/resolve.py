"""The one place the Kubernetes layer reads the validated spec: it turns the Environment and
the foundation's ClusterFacts into the narrow Args of each Kubernetes component.

Namespaces, the weights reader and the CRD release are given here as the names they will
have; the layer swaps in the objects it makes, so its children are created after them.
"""

from __future__ import annotations

import math

import pulumi
import yaml

from components import naming, scheduling
from components.engines import ENGINES
from components.kubernetes.facts import (
    WEIGHTS_READER,
    ArtifactStore,
    ClusterFacts,
    WorkloadIdentity,
)
from components.kubernetes.gpu_runtime import GpuRuntimeArgs
from components.kubernetes.layer import KubernetesLayerArgs
from components.kubernetes.model_server import (
    ModelServerArgs,
    SecretFile,
    WeightsFetch,
    WeightsSource,
)
from components.kubernetes.monitoring import Adapter, ObservabilityArgs, PrometheusStack
from components.kubernetes.pushgateway import NAME as PUSHGATEWAY
from components.kubernetes.pushgateway import PORT as PUSHGATEWAY_PORT
from components.kubernetes.pushgateway import PushgatewayArgs
from components.kubernetes.pushgateway import objects as pushgateway_objects
from components.kubernetes.quality_cronjob import COMPONENT as QUALITY
from components.kubernetes.quality_cronjob import NAME as QUALITY_MONITOR
from components.kubernetes.quality_cronjob import QualityMonitorArgs
from components.kubernetes.weights_access import WeightsAccessArgs
from components.observability import alertmanager, dashboards, rules
from components.sizing import GIB, weight_bytes
from components.spec import Environment, EnvironmentSpec, Model, architecture_of

Secrets = dict[str, pulumi.Input[str]]
OBSERVABILITY = "observability"


def layer_args(env: Environment, facts: ClusterFacts, secrets: Secrets) -> KubernetesLayerArgs:
    spec = env.spec
    labels = naming.labeler(spec)
    reads = bucket(facts)
    access = None
    if reads is not None:
        access = WeightsAccessArgs(
            namespace=spec.namespace, labels=labels("model-weights", "identity"), identity=reads[1]
        )
    return KubernetesLayerArgs(
        provider=facts.provider,
        namespace=spec.namespace,
        namespace_labels=labels("serving", "namespace"),
        observability=observability_args(env, secrets),
        gpu_runtime=gpu_runtime_args(spec, facts, metrics=True, namespace=f"{spec.namespace}-gpu"),
        models=tuple(model_server_args(env, facts, m, reads) for m in spec.models),
        weights_access=access,
    )


def cloud_gpu_runtime_args(env: Environment, facts: ClusterFacts) -> GpuRuntimeArgs:
    """The GPU runtime of a hybrid's cloud cluster: its training pools only need their GPUs
    schedulable, so no metrics, in a namespace of its own."""
    spec = env.spec
    return gpu_runtime_args(spec, facts, metrics=False, namespace=f"{spec.namespace}-cloud-gpu")


def gpu_runtime_args(
    spec: EnvironmentSpec, facts: ClusterFacts, metrics: bool, namespace: str
) -> GpuRuntimeArgs:
    return GpuRuntimeArgs(
        namespace=namespace,
        labeler=naming.labeler(spec),
        pools=facts.pools,
        prometheus_namespace=spec.cluster.prometheus_namespace,
        monitoring_labels=naming.monitoring_labels(spec),
        runtime=facts.gpu_runtime,
        gpu_operator=spec.cluster.gpu_operator,
        renders=spec.cluster.render_to_directory is not None,
        metrics=metrics,
    )


def weights_size_gib(model: Model) -> int:
    """The spec's size, or the weights' bytes (from the architecture and quantization) with
    half again for tokenizer, config and a second format, at least 10 GiB."""
    arch = architecture_of(model)
    weights_gib = weight_bytes(arch, model.quantization) / GIB if arch else 1
    return model.weights.size_gib or max(10, math.ceil(weights_gib * 1.5))


def bucket(facts: ClusterFacts) -> tuple[ArtifactStore, WorkloadIdentity] | None:
    """The bucket model servers copy weights from and the identity that reads it, where the
    foundation gives both."""
    if facts.artifacts is None or facts.workload_identity is None:
        return None
    return facts.artifacts, facts.workload_identity


def weights_source(
    model: Model, storage_class: str | None, reads: tuple[ArtifactStore, WorkloadIdentity] | None
) -> WeightsSource:
    stored = model.weights
    prefilled = stored.volume == "shared" and stored.access_mode == "ReadOnlyMany"
    fetch = None
    if reads is not None and not prefilled:
        store, identity = reads
        fetch = WeightsFetch(
            store=store,
            identity=identity,
            files_config_map=f"{WEIGHTS_READER}-cloud" if identity.files else None,
        )
    token = model.hf_token_secret
    return WeightsSource(
        volume=stored.volume,
        size_gib=weights_size_gib(model),
        storage_class=stored.storage_class or storage_class,
        shared_access_mode=stored.shared_access_mode,
        prefilled=prefilled,
        hf_id=model.hf_id,
        hf_token=SecretFile(name=token.name, key=token.key) if token else None,
        fetch=fetch,
    )


def model_server_args(
    env: Environment,
    facts: ClusterFacts,
    model: Model,
    reads: tuple[ArtifactStore, WorkloadIdentity] | None,
) -> ModelServerArgs:
    spec, engine = env.spec, ENGINES[model.engine.kind]
    pool = spec.pool(model.pool)
    plan = env.plans[model.name]
    resources = scheduling.model_pod_resources(
        scheduling.pool_allocatable(spec, pool),
        pool.gpus_per_node,
        plan.tensor_parallel,
        scheduling.gpu_daemonsets(spec, pool),
    )
    return ModelServerArgs(
        name=model.name,
        engine=engine,
        image=model.engine.image,
        plan=plan,
        pool=facts.pools[model.pool],
        resources=resources,
        weights=weights_source(model, facts.storage_class, reads),
        labels=naming.k8s_labels(
            spec, model.name, "model-server", model=model.name, engine=engine.name
        ),
        monitoring_labels=naming.monitoring_labels(spec),
        prometheus_namespace=spec.cluster.prometheus_namespace,
        namespace=spec.namespace,
        gpu_hour_usd=facts.gpu_hour_usd,
        service_account=WEIGHTS_READER if reads is not None else None,
    )


def observability_args(env: Environment, secrets: Secrets) -> ObservabilityArgs:
    spec = env.spec
    labels = naming.labeler(spec)
    renders = spec.cluster.render_to_directory is not None
    alerting = spec.observability.alerting
    receivers = None
    if not renders:
        receivers = {role: secrets[getattr(alerting, role).secret] for role in alertmanager.ROLES}
    return ObservabilityArgs(
        namespace=spec.namespace,
        environment=spec.environment,
        monitoring_namespace=spec.cluster.prometheus_namespace,
        labels=labels(OBSERVABILITY, OBSERVABILITY),
        monitoring_labels=naming.monitoring_labels(spec),
        renders=renders,
        alertmanager_config=yaml.safe_dump(alertmanager.config(spec), sort_keys=False),
        receivers=receivers,
        rules=rules.prometheus_rules(env),
        dashboards=dashboards.dashboards(spec.namespace),
        pushgateway=PushgatewayArgs(
            namespace=spec.namespace,
            labels=labels(PUSHGATEWAY, pushgateway_objects.COMPONENT),
            monitoring_labels=naming.monitoring_labels(spec),
            prometheus_namespace=spec.cluster.prometheus_namespace,
        ),
        stack=prometheus_stack(spec, secrets, renders),
        adapter=prometheus_adapter(spec),
        quality=quality_args(spec),
    )


def prometheus_stack(
    spec: EnvironmentSpec, secrets: Secrets, renders: bool
) -> PrometheusStack | None:
    prom = spec.observability.prometheus
    if prom.mode != "install":
        return None
    labels = naming.labeler(spec)
    return PrometheusStack(
        chart_version=prom.chart_version,
        retention=prom.retention,
        storage_gib=prom.storage_gib,
        storage_class=prom.storage_class,
        common_labels=labels("kube-prometheus-stack", OBSERVABILITY),
        namespace_labels=labels("monitoring", "namespace"),
        grafana_password=None if renders else secrets[prom.grafana_admin_secret],
    )


def prometheus_adapter(spec: EnvironmentSpec) -> Adapter | None:
    prom = spec.observability.prometheus
    if not prom.install_adapter:
        return None
    return Adapter(chart_version=prom.adapter_chart_version, prometheus_url=prom.url)


def quality_args(spec: EnvironmentSpec) -> QualityMonitorArgs | None:
    quality = spec.observability.quality
    if quality is None or not spec.models:
        return None
    return QualityMonitorArgs(
        namespace=spec.namespace,
        labels=naming.k8s_labels(spec, QUALITY_MONITOR, QUALITY),
        image=quality.image,
        schedule=quality.schedule,
        models=tuple(m.name for m in spec.models),
        log_volume_claim=quality.log_volume_claim,
        reference_dir=quality.reference_dir,
        sample_size=quality.sample_size,
        pushgateway_url=f"http://{PUSHGATEWAY}.{spec.namespace}.svc:{PUSHGATEWAY_PORT}",
    )
