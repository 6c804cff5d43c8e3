"""The one place the Kubernetes layer reads the validated spec: it turns the Environment and
the foundation's ClusterFacts into the narrow Args of each Kubernetes component.

Namespaces, the weights reader and the CRD release are given here as the names they will
have; the layer swaps in the objects it makes, so its children are created after them.
"""

from __future__ import annotations

import math

import pulumi
import yaml

from components import catalog, naming, pricing, scheduling
from components.catalog import versions
from components.engines import ENGINES, HTTP_PORT
from components.kubernetes.facts import (
    EVALS_PREFIX,
    MODEL_PUBLISHER,
    PUBLIC_KEY_CONFIG_MAP,
    SIGNING_KEY_SECRET,
    WEIGHTS_READER,
    ArtifactStore,
    ClusterFacts,
    WorkloadIdentity,
)
from components.kubernetes.gateway import args as gateway
from components.kubernetes.gateway.args import GatewayArgs
from components.kubernetes.gpu_runtime import GpuRuntimeArgs
from components.kubernetes.layer import KubernetesLayerArgs
from components.kubernetes.model_publisher import ModelPublisherArgs, StoreClaim
from components.kubernetes.model_server import (
    ModelServerArgs,
    SecretFile,
    WeightsFetch,
    WeightsSource,
)
from components.kubernetes.model_server.args import (
    AbortThresholds,
    AnalysisRuntime,
    CanaryStep,
    EvalGate,
    ModelSync,
    ModelVersion,
    RolloutArgs,
    Shadow,
)
from components.kubernetes.monitoring import Adapter, ObservabilityArgs, PrometheusStack
from components.kubernetes.pushgateway import NAME as PUSHGATEWAY
from components.kubernetes.pushgateway import PushgatewayArgs
from components.kubernetes.pushgateway import objects as pushgateway_objects
from components.kubernetes.quality_cronjob import COMPONENT as QUALITY
from components.kubernetes.quality_cronjob import NAME as QUALITY_MONITOR
from components.kubernetes.quality_cronjob import QualityMonitorArgs
from components.kubernetes.rollouts import RolloutsArgs
from components.kubernetes.training import (
    JobSetInstall,
    RetrainingTriggersArgs,
    TrainingJobArgs,
    TrainingJobsArgs,
)
from components.kubernetes.training import objects as training_objects
from components.kubernetes.training import trigger as training_trigger
from components.kubernetes.weights_access import WeightsAccessArgs
from components.observability import alertmanager, dashboards, rules
from components.observability import analysis as canary_analysis
from components.sizing import GIB, ServingPlan, weight_bytes
from components.spec import (
    CnpgDatabase,
    Environment,
    EnvironmentSpec,
    ExistingDatabase,
    Model,
    architecture_of,
    given,
)
from components.spec.checks import OPENAI_API_PATH, speaks_openai
from components.spec.types import TrainingJob
from components.training.contract import HarnessConfig, RunConfig

Secrets = dict[str, pulumi.Input[str]]
OBSERVABILITY = "observability"
# The gateway's objects and the label its pods carry (the model servers' NetworkPolicy
# admits that component).
GATEWAY = "llm-gateway"
GATEWAY_COMPONENT = "gateway"


def layer_args(env: Environment, facts: ClusterFacts, secrets: Secrets) -> KubernetesLayerArgs:
    spec = env.spec
    labels = naming.labeler(spec)
    reads = bucket(facts)
    access = None
    if reads is not None and reads[1] is not None:
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
        gateway=gateway_args(env, facts, secrets),
        rollouts=rollouts_args(spec),
        publisher=publisher_args(env, facts, secrets),
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


Reads = tuple[ArtifactStore, WorkloadIdentity | None]


def bucket(facts: ClusterFacts) -> Reads | None:
    """The store model servers copy weights from and the identity that reads it: a bucket
    with the foundation's reader, or an on-prem claim, which needs no identity (the pods
    mount it)."""
    store = facts.artifacts
    if store is None or (store.claim is None and facts.workload_identity is None):
        return None
    return store, facts.workload_identity


def prefilled(model: Model) -> bool:
    return model.weights.prefilled


def weights_source(model: Model, storage_class: str | None, reads: Reads | None) -> WeightsSource:
    stored = model.weights
    fetch = None
    if reads is not None and not prefilled(model):
        store, identity = reads
        fetch = WeightsFetch(
            store=store,
            identity=identity,
            files_config_map=f"{WEIGHTS_READER}-cloud" if identity and identity.files else None,
        )
    token = model.hf_token_secret
    return WeightsSource(
        volume=stored.volume,
        size_gib=weights_size_gib(model),
        storage_class=stored.storage_class or storage_class,
        shared_access_mode=stored.shared_access_mode,
        prefilled=prefilled(model),
        hf_id=model.hf_id,
        hf_token=SecretFile(name=token.name, key=token.key) if token else None,
        fetch=fetch,
    )


def model_server_args(
    env: Environment, facts: ClusterFacts, model: Model, reads: Reads | None
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
        service_account=WEIGHTS_READER if reads is not None and reads[1] is not None else None,
        version=model_version(env, facts, model, reads),
        rollout=rollout_args(env, facts, model),
        analysis_clients=analysis_clients(spec, model),
    )


def rollouts_args(spec: EnvironmentSpec) -> RolloutsArgs | None:
    """The Argo Rollouts controller, where some model is served by a Rollout."""
    if not any(m.rollout is not None for m in spec.models):
        return None
    return RolloutsArgs(
        labels=naming.k8s_labels(spec, "argo-rollouts", "rollouts-controller"),
        monitoring_labels=naming.monitoring_labels(spec),
        renders=spec.cluster.render_to_directory is not None,
    )


def eval_gate(model: Model, store: ArtifactStore | None) -> EvalGate:
    """The gate's golden set and reports under the store's evals/<name>/. Without a store
    there is no golden set to point at: the gate is given none and fails closed (the spec
    warns of a rollout without a store)."""
    block = given(model.eval, f"models.{model.name}.eval")
    golden: pulumi.Input[str] = ""
    reports: pulumi.Input[str] = ""
    if store is not None:
        evals = pulumi.Output.concat(store.fsspec_uri, f"/{EVALS_PREFIX}/{model.name}/")
        golden = pulumi.Output.concat(evals, "golden.jsonl")
        reports = pulumi.Output.concat(evals, "reports/")
    judge = block.judge
    return EvalGate(
        golden_uri=golden,
        reports_uri=reports,
        min_score=block.min_score,
        max_regression=block.max_regression,
        judge_model=judge.model if judge else None,
        judge_rubric=judge.rubric if judge else None,
    )


def analysis_runtime(spec: EnvironmentSpec, model: Model) -> AnalysisRuntime:
    """The gate's judge is asked at its own Service, as the gateway's shadow scoring asks it:
    the analysis Job holds no gateway key."""
    judge = model.eval.judge if model.eval is not None else None
    return AnalysisRuntime(
        image=versions.image("model-tools"),
        prometheus_url=spec.observability.prometheus.url,
        pushgateway_url=pushgateway_objects.service_url(spec.namespace),
        judge_url=None if judge is None else f"http://{judge.model}:{HTTP_PORT}{OPENAI_API_PATH}",
    )


def analysis_clients(spec: EnvironmentSpec, model: Model) -> bool:
    """Whether the model's API admits the Rollouts' analysis Jobs: it rolls out, or it is
    the judge of a model that does."""
    judges = {
        m.eval.judge.model
        for m in spec.models
        if m.rollout is not None and m.eval is not None and m.eval.judge is not None
    }
    return model.rollout is not None or model.name in judges


def rollout_args(env: Environment, facts: ClusterFacts, model: Model) -> RolloutArgs | None:
    """A model's canary: its steps, gate, shadow and thresholds, with the analyses'
    Prometheus metrics (components/observability/analysis.py)."""
    block = model.rollout
    if block is None:
        return None
    spec, engine = env.spec, ENGINES[model.engine.kind]
    abort = AbortThresholds(**block.abort.model_dump())
    gate = eval_gate(model, facts.artifacts)
    shadow = None
    shadow_metrics: tuple = ()
    if block.shadow is not None:
        shadow = Shadow(
            sample_pct=block.shadow.sample_pct, duration_s=60 * block.shadow.duration_minutes
        )
        shadow_metrics = tuple(
            canary_analysis.shadow_metrics(
                spec.namespace, model.name, model.revision, gate.min_score, abort,
                shadow.duration_s,
            )
        )  # fmt: skip
    return RolloutArgs(
        steps=tuple(CanaryStep(s.weight_pct, 60 * s.pause_minutes) for s in block.steps),
        eval_gate=gate,
        abort=abort,
        shadow=shadow,
        approval=block.approval,
        runtime=analysis_runtime(spec, model),
        canary_metrics=tuple(
            canary_analysis.canary_metrics(spec.namespace, model.name, engine, abort)
        ),
        shadow_metrics=shadow_metrics,
    )


def model_version(
    env: Environment, facts: ClusterFacts, model: Model, reads: Reads | None
) -> ModelVersion:
    """The pinned revision and how it is proven. Where there is a store (and the weights are
    not prefilled by hand), the sync Job copies it from its source, the Hub repository at the
    revision unless source.uri names another, and signs it; every pod verifies it."""
    spec = env.spec
    if reads is None or prefilled(model):
        return ModelVersion(revision=model.revision, previous_revision=model.previous_revision)
    given(spec.lifecycle.signing, "lifecycle.signing")
    token = model.hf_token_secret
    source = model.source.uri if model.source else f"hf://{given(model.hf_id, 'hf_id')}"
    return ModelVersion(
        revision=model.revision,
        previous_revision=model.previous_revision,
        sync=ModelSync(
            source=source,
            store=reads[0],
            identity=facts.model_publisher,
            signing_key_secret=SIGNING_KEY_SECRET,
            hf_token=SecretFile(name=token.name, key=token.key) if token else None,
        ),
        public_key_config_map=PUBLIC_KEY_CONFIG_MAP,
        pushgateway_url=pushgateway_objects.service_url(spec.namespace),
    )


def publisher_args(
    env: Environment, facts: ClusterFacts, secrets: Secrets
) -> ModelPublisherArgs | None:
    """The publisher's account, the signing keys and an on-prem store's claim, where there
    is a store. In render mode the private key is not read: its Secret is made with kubectl."""
    spec = env.spec
    if bucket(facts) is None:
        return None
    signing = spec.lifecycle.signing
    renders = spec.cluster.render_to_directory is not None
    claim = spec.onprem.artifact_claim if spec.onprem is not None else None
    return ModelPublisherArgs(
        namespace=spec.namespace,
        labels=naming.k8s_labels(spec, MODEL_PUBLISHER, "identity"),
        identity=facts.model_publisher,
        public_key=signing.public_key if signing else None,
        private_key=None if renders or signing is None else secrets[signing.private_key_secret],
        # The spec refuses a claim beside a hybrid's bucket, so a claim here is the store.
        claim=StoreClaim(claim.name, claim.size_gib, claim.storage_class) if claim else None,
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
        rules=rules.prometheus_rules(env, gateway=spec.gateway is not None),
        dashboards=dashboards.dashboards(spec.namespace, gateway=spec.gateway is not None),
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
        pushgateway_url=pushgateway_objects.service_url(spec.namespace),
    )


# The gateway's per-model timeout covers the longest request the model accepts: the TTFT
# target, then one decode step for every token of the longest completion that fits beside
# the planned prompt. The plan's decode step is a floor (one read of the weights; a full
# batch is slower), hence the margin. Past it the server is taken as stalled: the request
# falls back, or gets 408.
TIMEOUT_MARGIN = 2
TIMEOUT_FLOOR_S = 30


# A stream sends a chunk every decode step once the first token is out, so the longest
# silence is the wait for the first token: this many times the TTFT target is a stall.
STREAM_STALL_TTFTS = 10
STREAM_TIMEOUT_FLOOR_S = 10


def route_timeout_s(model: Model, plan: ServingPlan) -> int:
    longest = max(model.max_context - model.traffic.prompt_tokens_per_turn, 1)
    seconds = (model.slo.ttft_p95_ms + plan.decode_ms_per_token * longest) / 1000
    return max(TIMEOUT_FLOOR_S, math.ceil(TIMEOUT_MARGIN * seconds))


def route_stream_timeout_s(model: Model) -> int:
    seconds = STREAM_STALL_TTFTS * model.slo.ttft_p95_ms / 1000
    return max(STREAM_TIMEOUT_FLOOR_S, math.ceil(seconds))


def route_revision(model: Model) -> str:
    """What the request log and the shadow series record as the version a model serves: the
    spec's pinned `revision`, the value every model-server pod carries as its
    llm-platform.dev/revision label and every engine series as `revision`, so a log line, a
    shadow score and a TTFT series of one version join on the same value."""
    return model.revision


def _service_url(model: str, namespace: str) -> str:
    return f"http://{model}.{namespace}.svc.cluster.local:{HTTP_PORT}{OPENAI_API_PATH}"


# The rollout's experiment Service in front of the candidate pod: its name is the template's
# service.name (argo-rollouts v1.9.0 pkg/apis/rollouts/v1alpha1/types.go:623-624,
# experiment_types.go:95-97), its ports the pod's container ports (experiments/experiment.go:
# 291-302), so the model server's HTTP_PORT.
CANDIDATE_SUFFIX = "-candidate"


def shadow_route(model: Model, namespace: str, timeout_s: int) -> gateway.ShadowRoute | None:
    """The copies the gateway sends to a rollout's candidate, or None without shadow. The
    candidate is the same pod template as the model's servers, so it gets the route's timeout;
    its answers are graded by the eval's judge (at the judge's Service) when there is one."""
    block = model.rollout.shadow if model.rollout is not None else None
    if block is None:
        return None
    judge = model.eval.judge if model.eval is not None else None
    return gateway.ShadowRoute(
        api_base=_service_url(model.name + CANDIDATE_SUFFIX, namespace),
        sample_fraction=block.sample_pct / 100,
        timeout_s=timeout_s,
        revision=model.revision,
        judge=None if judge is None else gateway.ShadowJudge(
            model=judge.model, api_base=_service_url(judge.model, namespace)),
    )


def _route(env: Environment, model: Model) -> gateway.Route:
    spec = env.spec
    plan = env.plans[model.name]
    price = pricing.token_price(spec, plan, model)
    fallback = None
    if model.fallback is not None:
        hosted = given(model.hosted_api, f"models.{model.name}.hosted_api")
        fallback = gateway.Fallback(
            hosted_model=hosted.name,
            api_base=model.fallback.api_base,
            key_secret=model.fallback.api_key_secret,
            usd_per_input_token=hosted.usd_per_million_input / 1e6,
            usd_per_output_token=hosted.usd_per_million_output / 1e6,
        )
    timeout_s = route_timeout_s(model, plan)
    return gateway.Route(
        model=model.name,
        api_base=_service_url(model.name, spec.namespace),
        # The planned capacity: past it LiteLLM refuses the deployment at once (429) and
        # the router falls back, instead of queueing into a timeout.
        max_parallel_requests=plan.max_num_seqs * plan.replicas_max,
        usd_per_input_token=price,
        usd_per_output_token=price,
        timeout_s=timeout_s,
        stream_timeout_s=route_stream_timeout_s(model),
        revision=route_revision(model),
        fallback=fallback,
        # Recorded only while a rollout replaces it: then both revisions serve the Service.
        previous_revision=model.previous_revision if model.rollout is not None else None,
        shadow=shadow_route(model, spec.namespace, timeout_s),
    )


def _database(
    spec_db: CnpgDatabase | ExistingDatabase, facts: ClusterFacts
) -> gateway.CnpgDatabase | gateway.ExistingDatabase:
    if isinstance(spec_db, ExistingDatabase):
        return gateway.ExistingDatabase(url_secret=spec_db.url_secret)
    # Backups need the writer the foundation bound to the database's own service account,
    # never the weights reader (read-only, models/ only, another service account).
    writer = facts.database_backup if facts.artifacts is not None else None
    return gateway.CnpgDatabase(
        instances=spec_db.instances,
        storage_gib=spec_db.storage_gib,
        storage_class=spec_db.storage_class or facts.storage_class,
        backup_store=facts.artifacts if writer is not None else None,
        backup_identity=writer,
    )


def gateway_args(env: Environment, facts: ClusterFacts, secrets: Secrets) -> GatewayArgs | None:
    """The gateway's Args, or None without a gateway block. A model whose engine does not
    speak the OpenAI API (tensorrt-llm) gets no route; the spec refuses a team naming it."""
    spec = env.spec
    block = spec.gateway
    if block is None:
        return None
    renders = spec.cluster.render_to_directory is not None
    log = block.request_log
    ingress = block.ingress
    return GatewayArgs(
        namespace=spec.namespace,
        labels=naming.k8s_labels(spec, GATEWAY, GATEWAY_COMPONENT),
        image=block.image,
        redis_image=versions.image("redis"),
        replicas_min=block.replicas.min,
        replicas_max=block.replicas.max,
        master_key_secret=block.master_key_secret,
        database=_database(block.database, facts),
        ceiling_usd=given(spec.gateway_ceiling_usd, "the gateway's ceiling"),
        teams=tuple(
            gateway.Team(
                name=t.name,
                models=tuple(t.models),
                rpm=t.rpm,
                tpm=t.tpm,
                max_parallel_requests=t.max_parallel_requests,
                monthly_budget_usd=t.monthly_budget_usd,
                keys=tuple(gateway.TeamKey(alias=k.alias, secret=k.secret) for k in t.keys),
            )
            for t in block.teams
        ),
        routes=tuple(_route(env, m) for m in spec.models if speaks_openai(m)),
        request_log=gateway.RequestLog(
            claim=log.claim,
            size_gib=log.size_gib,
            storage_class=log.storage_class,
            retention_days=log.retention_days,
            redact_prompts=log.redact_prompts,
        ),
        prometheus_namespace=spec.cluster.prometheus_namespace,
        monitoring_labels=naming.monitoring_labels(spec),
        ingress=None
        if ingress is None
        else gateway.Ingress(
            host=ingress.host, tls_secret=ingress.tls_secret, class_name=ingress.class_name
        ),
        render=renders,
        secrets={} if renders else {k: secrets[k] for k in spec.gateway_secret_keys()},
    )


# Off spot (or on premises) nothing bounds the pod's grace but the checkpoint itself: the
# trainer's checkpoint_seconds, plus Kubernetes' default grace (30 s,
# terminationGracePeriodSeconds) for the harness to push its metric and exit.
GRACE_MARGIN_S = 30


def training_grace_s(spec: EnvironmentSpec, job: TrainingJob) -> int:
    """The pod's terminationGracePeriodSeconds: on a cloud's spot pool, the part of the
    cloud's notice a pod may use (catalog spot_notice.yaml; the spec refuses a checkpoint
    that does not fit it); elsewhere the checkpoint and a margin."""
    pool = spec.pool(job.pool)
    if pool.capacity == "spot" and pool in spec.cloud_pools() and spec.cloud is not None:
        return catalog.spot_notices()[spec.cloud].pod_grace_s
    return job.checkpoint_seconds + GRACE_MARGIN_S


def run_config(job: TrainingJob) -> RunConfig:
    return RunConfig(
        job=job.name,
        image=job.image,
        command=tuple(job.command),
        base_hf_id=job.base.hf_id,
        base_revision=job.base.revision,
        dataset_uri=job.dataset.uri,
        dataset_version=job.dataset.version,
        hyperparameters=dict(job.hyperparameters),
        seed=job.seed,
    )


def training_job_args(
    spec: EnvironmentSpec,
    facts: ClusterFacts,
    job: TrainingJob,
    pushgateway: str | None,
    signing_key_secret: str | None,
) -> TrainingJobArgs:
    store = given(facts.artifacts, "the artifact store")
    pool = spec.pool(job.pool)
    grace_s = training_grace_s(spec, job)
    harness = HarnessConfig(
        run=run_config(job),
        store=store.fsspec_uri,  # type: ignore[arg-type]  # an Output until the bucket exists
        model=job.model,
        pool=job.pool,
        checkpoint_interval_s=60 * job.checkpoint_interval_minutes,
        keep_checkpoints=job.keep_checkpoints,
        max_preemptions=job.max_preemptions,
        grace_s=grace_s,
        pushgateway=pushgateway,
        signing_key=training_objects.signing_key_path(signing_key_secret),
    )
    return TrainingJobArgs(
        name=job.name,
        image=job.image,
        command=tuple(job.command),
        harness=harness,
        pool=facts.pools[job.pool],
        gpus_per_worker=job.gpus_per_worker,
        workers=job.workers,
        resources=scheduling.training_pod_resources(
            scheduling.pool_allocatable(spec, pool),
            pool.gpus_per_node,
            job.gpus_per_worker,
            scheduling.gpu_daemonsets(spec, pool),
        ),
        shm_mib=scheduling.training_shm_mib(job.gpus_per_worker),
        active_deadline_s=math.ceil(job.active_deadline_hours * 3600),
        identity=facts.trainers.get(job.name),
        store=store,
        signing_key_secret=signing_key_secret,
        labels=naming.k8s_labels(
            spec, training_objects.service_account(job.name), training_objects.COMPONENT
        ),
        schedule=job.schedule,
        triggered=job.trigger is not None and job.trigger.action == "train",
        on_demand_reason=job.on_demand_reason,
    )


def training_args(
    env: Environment, facts: ClusterFacts, secrets: Secrets, own_namespace: bool = False
) -> TrainingJobsArgs | None:
    """The spec's training jobs on the cluster `facts` describes, or None without jobs or
    a store to checkpoint to (the spec refuses jobs without one). On the layer's cluster they
    run in its namespace and push to its Pushgateway, and sign with the Secret the
    ModelPublisher makes there. In a namespace of their own (a hybrid's cloud cluster, where
    this component makes the namespace) there is no Pushgateway, so nothing is pushed, and
    the signing key's Secret is made there."""
    spec = env.spec
    if not spec.training.jobs or facts.artifacts is None:
        return None
    signing = spec.lifecycle.signing
    renders = spec.cluster.render_to_directory is not None
    # The layer's ModelPublisher makes the Secret wherever there is a store it can use.
    has_secret = own_namespace or bucket(facts) is not None
    secret = SIGNING_KEY_SECRET if signing is not None and has_secret else None
    pushgateway = None if own_namespace else pushgateway_objects.service_url(spec.namespace)
    jobs = tuple(
        training_job_args(spec, facts, job, pushgateway, secret) for job in spec.training.jobs
    )
    jobset = None
    if any(job.workers > 1 for job in jobs):
        jobset = JobSetInstall(
            labels=naming.k8s_labels(spec, "jobset", "jobset-controller"), renders=renders
        )
    private_key = None
    if own_namespace and signing is not None and not renders:
        private_key = secrets[signing.private_key_secret]
    return TrainingJobsArgs(
        # The same name on a hybrid's cloud cluster (where nothing else uses it): foundations
        # bind each trainer to system:serviceaccount:<spec namespace>:train-<job> either way.
        namespace=spec.namespace,
        jobs=jobs,
        labels=naming.k8s_labels(spec, training_objects.TRAINER_NETPOL, training_objects.COMPONENT),
        tools_image=versions.image("model-tools"),
        own_namespace_labels=naming.k8s_labels(spec, "training", "namespace")
        if own_namespace
        else None,
        private_key=private_key,
        jobset=jobset,
    )


def retraining_triggers_args(env: Environment) -> RetrainingTriggersArgs | None:
    """Every training job's trigger with the policy's defaults filled in from the spec
    (training_trigger.trigger_spec); None without one."""
    spec = env.spec
    found = tuple(
        t for job in spec.training.jobs if (t := training_trigger.trigger_spec(spec, job))
    )
    if not found:
        return None
    return RetrainingTriggersArgs(
        namespace=spec.namespace,
        triggers=found,
        labels=naming.k8s_labels(spec, "retrain", training_trigger.COMPONENT),
    )
