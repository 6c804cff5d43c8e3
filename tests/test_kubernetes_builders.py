"""The Kubernetes layer's pure builders, called directly with hand-made narrow Args: no
spec, no Pulumi program, no mock monitor. Each test states what an operator would see."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from components.engines import ENGINES
from components.kubernetes import layer, pods
from components.kubernetes.facts import ArtifactStore, PoolScheduling, Taint, WorkloadIdentity
from components.kubernetes.gpu_runtime import daemonsets as ds
from components.kubernetes.gpu_runtime import namespace_labels as gpu_namespace_labels
from components.kubernetes.gpu_runtime import operator, scraping
from components.kubernetes.model_server import network, pod, scaling, weights
from components.kubernetes.model_server.args import (
    ModelServerArgs,
    SecretFile,
    WeightsFetch,
    WeightsSource,
)
from components.kubernetes.monitoring import charts, objects
from components.kubernetes.monitoring.args import Adapter, ObservabilityArgs, PrometheusStack
from components.kubernetes.pushgateway import PushgatewayArgs
from components.kubernetes.pushgateway import objects as pushgateway
from components.kubernetes.quality_cronjob import job as quality
from components.naming import K8sLabeler
from components.onprem.cluster import OnPremClusterArgs, provider_args
from components.scheduling import GpuNodeRuntime, PodResources, Resources
from components.sizing import MemoryBudget, ServingPlan

VLLM, TRTLLM = ENGINES["vllm"], ENGINES["tensorrt-llm"]
GPU_TAINT = Taint(key="nvidia.com/gpu", effect="NoSchedule", value="present")
# A taint the cloud sets on its own (e.g. GKE's on GPU nodes), with any value.
CLOUD_TAINT = Taint(key="cloud.example/accelerator", effect="NoExecute", implied_by="docs")
POOL = PoolScheduling(
    max_gpus=8, node_selector={"llm-platform.dev/pool": "a100"}, taints=(GPU_TAINT, CLOUD_TAINT)
)
LABELER = K8sLabeler(
    environment="prod",
    tags={"team": "ml", "cost-center": "cc-1", "environment": "prod", "owner": "oncall"},
)


def make_plan(**changes) -> ServingPlan:
    values = dict(
        gpu="a100-80gb",
        tensor_parallel=2,
        budget=MemoryBudget(80, 72, 30, 2, 1, 39, 131072, 300_000, 32768, 9.2),
        max_num_seqs=64,
        max_num_batched_tokens=8192,
        replicas_min=1,
        replicas_max=3,
        prefill_ms=100.0,
        decode_ms_per_token=20.0,
        startup_budget_s=600,
        drain_s=120,
        gpu_memory_utilization=0.9,
        prefix_caching=True,
        engine_args=[],
    )
    return ServingPlan(**{**values, **changes})


def make_args(**changes) -> ModelServerArgs:
    values = dict(
        name="chat",
        engine=VLLM,
        image="vllm/vllm-openai:v0.33.0",
        plan=make_plan(),
        pool=POOL,
        resources=PodResources(
            requests=Resources(cpu_m=4000, memory_mib=32768),
            limits=Resources(cpu_m=8000, memory_mib=65536),
        ),
        weights=WeightsSource(
            volume="per-pod", size_gib=40, storage_class="fast", hf_id="org/chat-model"
        ),
        labels={"app.kubernetes.io/name": "chat"},
        monitoring_labels={"release": "prom"},
        prometheus_namespace="monitoring",
        namespace="serving",
    )
    return ModelServerArgs(**{**values, **changes})


def server(args: ModelServerArgs, engine_config: str | None = None):
    parts = pod.pod_parts(args, None, engine_config)
    return pod.pod_spec(args, parts), parts


def env_of(container) -> dict[str, str]:
    return {e.name: e.value for e in container.env}


# --- the server pod -------------------------------------------------------------------------


def test_pod_tolerates_every_taint_of_its_pool_and_selects_its_nodes():
    spec, _ = server(make_args())
    tolerations = [(t.key, t.operator, t.value, t.effect) for t in spec.tolerations]
    assert tolerations == [
        ("nvidia.com/gpu", "Equal", "present", "NoSchedule"),
        # No value on the cloud's taint: tolerate whatever value the node carries.
        ("cloud.example/accelerator", "Exists", None, "NoExecute"),
    ]
    assert spec.node_selector == {"llm-platform.dev/pool": "a100"}


def test_grace_period_covers_prestop_drain_and_teardown():
    spec, _ = server(make_args(plan=make_plan(drain_s=120)))
    (container,) = spec.containers
    # preStop sleep 15 s (endpoints stop routing), then the plan's 120 s drain, then 30 s
    # for the engine to free GPU memory.
    assert container.lifecycle.pre_stop.sleep.seconds == 15
    assert spec.termination_grace_period_seconds == 15 + 120 + 30


def test_server_runs_under_the_restricted_profile():
    spec, _ = server(make_args())
    (container,) = spec.containers
    sc = container.security_context
    assert sc.allow_privilege_escalation is False and sc.read_only_root_filesystem is True
    assert sc.run_as_non_root is True and sc.run_as_user == 10001
    assert sc.capabilities.drop == ["ALL"] and sc.seccomp_profile.type == "RuntimeDefault"
    assert spec.security_context.run_as_non_root is True and spec.security_context.fs_group == 10001
    assert spec.automount_service_account_token is False


def test_server_asks_for_its_gpus_under_the_pools_resource_name():
    amd = PoolScheduling(max_gpus=8, node_selector={}, taints=(), gpu_resource="amd.com/gpu")
    spec, _ = server(make_args(pool=amd, plan=make_plan(tensor_parallel=4)))
    resources = spec.containers[0].resources
    assert resources.requests == {"cpu": "4000m", "memory": "32768Mi", "amd.com/gpu": "4"}
    assert resources.limits == {"cpu": "8000m", "memory": "65536Mi", "amd.com/gpu": "4"}


def test_startup_probe_waits_the_whole_startup_budget():
    spec, _ = server(make_args(plan=make_plan(startup_budget_s=1205)))
    probe = spec.containers[0].startup_probe
    # 121 probes 10 s apart cover 1205 s.
    assert probe.period_seconds == 10 and probe.failure_threshold == 121
    # vLLM answers /health once its server is up (vllm/entrypoints/serve/instrumentator/
    # health.py, v0.33.0), before the weights are loaded: the startup, not the readiness, probe.
    assert probe.http_get.path == "/health"


def test_engine_downloads_from_the_hub_unless_the_weights_are_already_there():
    hub, parts = server(make_args())
    assert "HF_HUB_OFFLINE" not in env_of(hub.containers[0]) and parts.model_ref == "org/chat-model"
    ready = WeightsSource(volume="shared", size_gib=40, storage_class=None, prefilled=True)
    offline, parts = server(make_args(weights=ready))
    assert env_of(offline.containers[0])["HF_HUB_OFFLINE"] == "1"
    assert parts.model_ref == "/models/chat" and offline.init_containers is None


def test_hf_token_is_a_read_only_file_never_an_env_value():
    token = WeightsSource(
        volume="per-pod", size_gib=40, storage_class=None, hf_token=SecretFile("hf", "tok")
    )
    spec, _ = server(make_args(weights=token))
    volume = next(v for v in spec.volumes if v.name == "hf-token")
    assert volume.secret.secret_name == "hf" and volume.secret.items[0].key == "tok"
    assert volume.secret.default_mode == 0o440
    env = env_of(spec.containers[0])
    assert env["HF_TOKEN_PATH"] == "/var/run/secrets/huggingface/token"
    assert "HF_TOKEN" not in env


def test_engine_config_files_are_mounted_read_only():
    spec, _ = server(make_args(engine=TRTLLM), engine_config="chat-engine-config")
    mount = next(m for m in spec.containers[0].volume_mounts if m.name == "engine-config")
    assert mount.mount_path == "/etc/llm-platform" and mount.read_only is True
    volume = next(v for v in spec.volumes if v.name == "engine-config")
    assert volume.config_map.name == "chat-engine-config"


@pytest.mark.parametrize(
    ("max_gpus", "surge", "unavailable"),
    # 3 replicas x TP 2 = 6 GPUs: an 8-GPU pool has room for one more pod, a 7-GPU one not.
    [(8, 1, 0), (7, 0, 1)],
)
def test_rollout_surges_only_into_gpus_the_autoscaler_never_takes(max_gpus, surge, unavailable):
    pool = PoolScheduling(max_gpus=max_gpus, node_selector={}, taints=())
    strategy = pod.rollout_strategy(make_args(pool=pool))
    assert (strategy.max_surge, strategy.max_unavailable) == (surge, unavailable)


def test_deployment_carries_the_gpu_rate_and_skips_the_digest_check_only_for_tags():
    tagged = pod.deployment_annotations(make_args(gpu_hour_usd=2.5))
    assert tagged["llm-platform.dev/gpu-hour-usd"] == "2.5"
    assert tagged["checkov.io/skip1"].startswith("CKV_K8S_43=")
    digest = pod.deployment_annotations(make_args(image="vllm/vllm-openai@sha256:" + "a" * 64))
    assert digest == {}


def test_deployment_starts_at_the_plans_minimum_and_selects_by_stable_labels():
    args = make_args(plan=make_plan(replicas_min=2))
    spec = pod.deployment_spec(args, pod.pod_parts(args, None, None))
    assert spec.replicas == 2
    assert spec.selector.match_labels == {
        "app.kubernetes.io/name": "chat",
        "app.kubernetes.io/component": "model-server",
    }


# --- weights --------------------------------------------------------------------------------


def test_per_pod_weights_are_an_ephemeral_read_write_once_claim():
    source = WeightsSource(volume="per-pod", size_gib=40, storage_class="fast")
    volume = weights.weights_volume(source, {"a": "b"}, claim=None)
    claim = volume.ephemeral.volume_claim_template
    assert claim.spec.access_modes == ["ReadWriteOnce"]
    assert claim.spec.storage_class_name == "fast"
    assert claim.spec.resources.requests == {"storage": "40Gi"}
    assert claim.metadata.labels == {"a": "b"}


def test_shared_weights_claim_uses_the_shared_access_mode():
    source = WeightsSource(
        volume="shared", size_gib=120, storage_class="nfs", shared_access_mode="ReadOnlyMany"
    )
    spec = weights.shared_claim_spec(source)
    assert spec.access_modes == ["ReadOnlyMany"] and spec.resources.requests == {"storage": "120Gi"}
    volume = weights.weights_volume(source, {}, claim="chat-weights")
    assert volume.persistent_volume_claim.claim_name == "chat-weights"


def fetch(audience: str | None, files: str | None) -> WeightsFetch:
    return WeightsFetch(
        store=ArtifactStore(
            uri="s3://bucket",
            rclone_env={"RCLONE_CONFIG_ARTIFACTS_TYPE": "s3"},
            models_path="artifacts:bucket/models",
        ),
        identity=WorkloadIdentity(
            env={"AWS_ROLE_ARN": "arn:aws:iam::1:role/r"},
            token_audience=audience,
            pod_labels={"azure.workload.identity/use": "true"},
        ),
        files_config_map=files,
    )


def test_federated_fetch_mounts_an_audience_scoped_token_and_the_credential_files():
    volumes, mounts = weights.fetch_volumes(fetch("sts.amazonaws.com", "reader-cloud"))
    token = volumes[0].projected.sources[0].service_account_token
    assert token.audience == "sts.amazonaws.com" and token.expiration_seconds == 3600
    assert volumes[1].config_map.name == "reader-cloud"
    assert [(m.mount_path, m.read_only) for m in mounts] == [
        ("/var/run/secrets/llm-platform/cloud-token", True),
        ("/etc/llm-platform/cloud", True),
    ]
    assert weights.fetch_volumes(fetch(None, None)) == ([], [])


def test_fetched_weights_come_from_an_init_container_and_keep_the_engine_offline():
    source = WeightsSource(
        volume="per-pod", size_gib=40, storage_class=None, hf_id="org/m", fetch=fetch(None, None)
    )
    spec, parts = server(make_args(weights=source))
    (init,) = spec.init_containers
    assert init.name == "fetch-weights" and init.command[:2] == ["rclone", "copy"]
    assert init.command[3] == "/models/chat"
    assert env_of(init)["HOME"] == "/tmp/home" and env_of(init)["AWS_ROLE_ARN"].startswith("arn:")
    assert init.security_context.run_as_non_root is True
    assert env_of(spec.containers[0])["HF_HUB_OFFLINE"] == "1"
    assert parts.model_ref == "/models/chat"
    assert parts.labels == {"azure.workload.identity/use": "true"}


# --- scaling and network --------------------------------------------------------------------


def test_hpa_scales_between_the_plans_replicas_on_the_engines_queue_metric():
    spec = scaling.hpa_spec(make_plan(replicas_min=2, replicas_max=5), VLLM, "chat")
    assert (spec.min_replicas, spec.max_replicas) == (2, 5)
    (metric,) = spec.metrics
    assert metric.pods.metric.name == "vllm_num_requests_waiting"
    # A tenth of max-num-seqs 64 waiting per pod, rounded: 6.
    assert metric.pods.target.average_value == "6"
    assert spec.scale_target_ref.kind == "Deployment" and spec.scale_target_ref.name == "chat"


def test_hpa_waits_out_a_model_load_before_deciding():
    behavior = scaling.hpa_spec(make_plan(startup_budget_s=600), VLLM, "chat").behavior
    assert behavior.scale_up.stabilization_window_seconds == 600
    assert behavior.scale_down.stabilization_window_seconds == 1200
    slow = scaling.hpa_spec(make_plan(startup_budget_s=2400), VLLM, "chat").behavior
    # Capped at an hour, and one pod per half hour at most.
    assert slow.scale_down.stabilization_window_seconds == 3600
    assert slow.scale_up.policies[0].period_seconds == 1800


def test_small_batches_still_scale_on_at_least_one_waiting_request():
    spec = scaling.hpa_spec(make_plan(max_num_seqs=4), TRTLLM, "chat")
    assert spec.metrics[0].pods.target.average_value == "1"
    assert spec.metrics[0].pods.metric.name == "trtllm_requests_waiting"


def test_pdb_lets_one_pod_go_at_a_time():
    spec = scaling.pdb_spec({"app.kubernetes.io/name": "chat"})
    assert spec.max_unavailable == 1


def test_only_the_gateway_reaches_the_api_and_only_prometheus_the_metrics():
    trt = network.network_policy_spec("monitoring", {"x": "y"}, TRTLLM)
    api, metrics = trt.ingress
    assert [p.pod_selector.match_labels for p in api.from_] == [
        {"app.kubernetes.io/component": "gateway"}
    ]
    assert api.ports[0].port == 8000
    assert metrics.ports[0].port == 8002
    assert metrics.from_[0].namespace_selector.match_labels == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    # vLLM serves metrics on its API port: one rule, both peers.
    (shared,) = network.network_policy_spec("monitoring", {"x": "y"}, VLLM).ingress
    assert len(shared.from_) == 2 and shared.ports[0].port == 8000


def test_service_and_monitor_expose_the_engines_metrics_port():
    ports = network.service_spec(TRTLLM, {"x": "y"}).ports
    assert [(p.name, p.port) for p in ports] == [("http", 8000), ("metrics", 8002)]
    monitor = network.service_monitor_spec({"x": "y"}, "serving", TRTLLM)
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] == "metrics" and monitor["namespaceSelector"]["matchNames"] == [
        "serving"
    ]
    # Every rule selects by `model`, copied from the pod's llm-platform.dev/model label.
    assert endpoint["relabelings"][0]["sourceLabels"] == [
        "__meta_kubernetes_pod_label_llm_platform_dev_model"
    ]
    assert network.service_monitor_spec({}, "serving", VLLM)["endpoints"][0]["port"] == "http"


def test_monitor_copies_the_revision_and_the_rollout_hash_to_every_series():
    """The canary analysis compares ReplicaSets by pod_template_hash and the records keep
    revision: both come from pod labels, as Prometheus' Kubernetes discovery names them
    (every character not a letter, digit or underscore becomes "_")."""
    (endpoint,) = network.service_monitor_spec({"x": "y"}, "serving", VLLM)["endpoints"]
    copied = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}
    assert copied == {
        "model": ["__meta_kubernetes_pod_label_llm_platform_dev_model"],
        "revision": ["__meta_kubernetes_pod_label_llm_platform_dev_revision"],
        "pod_template_hash": ["__meta_kubernetes_pod_label_rollouts_pod_template_hash"],
    }
    assert {r["action"] for r in endpoint["relabelings"]} == {"replace"}


# --- GPU runtime ----------------------------------------------------------------------------


def test_gpu_daemonsets_tolerate_each_distinct_taint_once_and_reach_every_pool():
    other = PoolScheduling(max_gpus=4, node_selector={"pool": "h100"}, taints=(GPU_TAINT,))
    tolerations = ds.gpu_tolerations([POOL, other])
    assert sorted((t.key, t.effect) for t in tolerations) == [
        ("cloud.example/accelerator", "NoExecute"),
        ("nvidia.com/gpu", "NoSchedule"),
    ]
    terms = ds.gpu_node_affinity([POOL, other]).node_affinity
    terms = terms.required_during_scheduling_ignored_during_execution.node_selector_terms
    assert [[(e.key, e.values) for e in t.match_expressions] for t in terms] == [
        [("llm-platform.dev/pool", ["a100"])],
        [("pool", ["h100"])],
    ]


def test_nvidia_runtime_skips_amd_pools():
    amd = PoolScheduling(max_gpus=8, node_selector={}, taints=(), gpu_resource="amd.com/gpu")
    assert ds.nvidia_pools({"a": POOL, "b": amd}) == [POOL]


def test_exporter_is_privileged_only_where_the_cloud_needs_it():
    gke = GpuNodeRuntime(
        device_plugin=False,
        driver_host_path="/home/kubernetes/bin/nvidia",
        gpu_id_type="device-name",
    )
    container = ds.dcgm_exporter_container(gke)
    assert container.security_context.privileged is True
    assert env_of(container)["DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE"] == "device-name"
    assert ds.exporter_annotations(gke)["llm-platform.dev/privileged"] == (
        "GKE gives no container GPU devices but a privileged one (Google's manifest)")
    plain = ds.dcgm_exporter_container(GpuNodeRuntime())
    assert plain.security_context.privileged is None
    assert plain.security_context.allow_privilege_escalation is False
    assert "llm-platform.dev/privileged" not in ds.exporter_annotations(GpuNodeRuntime())
    assert [v.host_path.path for v in ds.exporter_volumes(gke)] == [
        "/var/lib/kubelet/pod-resources",
        "/home/kubernetes/bin/nvidia",
    ]


def test_only_prometheus_reaches_the_exporter_and_nothing_the_device_plugin():
    (rule,) = scraping.network_policy_spec({"x": "y"}, "monitoring").ingress
    assert rule.ports[0].port == 9400
    assert scraping.network_policy_spec({"x": "y"}, None).ingress == []


def test_gpu_namespace_is_privileged_and_warns_on_restricted():
    labels = gpu_namespace_labels(LABELER)
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["llm-platform.dev/team"] == "ml"


def test_gpu_operator_monitor_is_labelled_for_the_existing_prometheus():
    values = operator.operator_values(LABELER, {"release": "prom"})
    assert values["dcgmExporter"]["serviceMonitor"]["additionalLabels"] == {"release": "prom"}
    assert values["daemonsets"]["labels"]["app.kubernetes.io/instance"] == "prod-gpu-operator"


# --- observability --------------------------------------------------------------------------

STACK = PrometheusStack(
    chart_version="65.1.1",
    retention="15d",
    storage_gib=50,
    storage_class="ssd",
    common_labels={"a": "b"},
    namespace_labels={"c": "d"},
)


def test_stack_values_size_prometheus_and_read_grafanas_password_from_a_secret():
    values = charts.stack_values(STACK, renders=False)
    spec = values["prometheus"]["prometheusSpec"]
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "50Gi"
    assert claim["storageClassName"] == "ssd" and spec["retention"] == "15d"
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    assert "prometheusOperator" not in values


def test_rendered_stack_drops_what_needs_helm_hooks():
    values = charts.stack_values(STACK, renders=True)
    assert values["prometheusOperator"] == {
        "admissionWebhooks": {"enabled": False},
        "tls": {"enabled": False},
    }


@pytest.mark.parametrize(
    ("url", "origin", "port"),
    [
        (
            "http://prometheus-operated.monitoring.svc:9090",
            "http://prometheus-operated.monitoring.svc",
            9090,
        ),
        ("https://prom.example.com/api", "https://prom.example.com/api", 443),
    ],
)
def test_adapter_gets_the_prometheus_url_and_port_apart(url, origin, port):
    values = charts.adapter_values(Adapter(chart_version="4.11.0", prometheus_url=url))
    assert values["prometheus"] == {"url": origin, "port": port}
    assert values["rules"]["default"] is False


def test_dashboards_are_named_per_environment_and_labelled_for_the_sidecar():
    ((suffix, name, labels, data),) = objects.dashboard_config_maps(
        "prod", {"serving.json": "{}"}, {"a": "b"}
    )
    assert (suffix, name, data) == ("serving", "prod-serving", {"serving.json": "{}"})
    assert labels == {"a": "b", "grafana_dashboard": "1"}


def observability(**changes) -> ObservabilityArgs:
    values = dict(
        namespace="serving",
        environment="prod",
        monitoring_namespace="monitoring",
        labels={},
        monitoring_labels={},
        renders=False,
        alertmanager_config="route: {}",
        receivers={"pager": "pd-key", "ticket": "slack-url"},
        rules={},
        dashboards={},
        pushgateway=PushgatewayArgs(
            namespace="serving", labels={}, monitoring_labels={}, prometheus_namespace="monitoring"
        ),
        stack=replace(STACK, grafana_password="pw"),
    )
    return ObservabilityArgs(**{**values, **changes})


def test_credentials_reach_secrets_only_when_applied_to_a_cluster():
    made = {suffix: (name, data) for suffix, name, data in objects.secrets(observability())}
    assert made["am-config"] == ("llm-platform-alertmanager", {"alertmanager.yaml": "route: {}"})
    assert made["am-receivers"][1] == {"pager": "pd-key", "ticket": "slack-url"}
    assert made["grafana-admin"] == (
        "grafana-admin",
        {"admin-user": "admin", "admin-password": "pw"},
    )
    # Render mode: resolve leaves the credentials out, and only the config is made.
    rendered = observability(renders=True, receivers=None, stack=STACK)
    assert [suffix for suffix, _, _ in objects.secrets(rendered)] == ["am-config"]


def test_receivers_secret_holds_one_credential_per_route():
    data = objects.receivers_data({"pager": "pd-key", "ticket": "slack-url", "spare": "x"})
    assert data == {"pager": "pd-key", "ticket": "slack-url"}
    assert objects.grafana_admin_data("pw") == {"admin-user": "admin", "admin-password": "pw"}


def test_pushgateway_keeps_one_writer_and_runs_as_its_images_user():
    spec = pushgateway.deployment_spec({"x": "y"}, {"x": "y"}, "pushgateway")
    assert spec.replicas == 1 and spec.strategy.type == "Recreate"
    (container,) = spec.template.spec.containers
    assert container.security_context.run_as_user == 65534
    assert spec.template.spec.volumes[0].persistent_volume_claim.claim_name == "pushgateway"
    (rule,) = pushgateway.network_policy_spec({"x": "y"}, "monitoring").ingress
    # Jobs in its own namespace push; Prometheus scrapes.
    assert rule.from_[0].pod_selector.match_labels is None
    assert rule.from_[1].namespace_selector.match_labels == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    assert rule.ports[0].port == 9091


def test_quality_job_reads_its_config_and_logs_read_only_and_never_piles_up():
    config = json.loads(quality.config_json(["chat"], "ref", 400, "http://pg:9091"))
    assert config == {
        "models": ["chat"],
        "log_dir": "/var/log/llm",
        "reference_dir": "/var/log/llm/ref",
        "sample_size": 400,
        "pushgateway": "http://pg:9091",
    }
    pod_spec = quality.pod_spec("ghcr.io/x/quality:0.1.0", "cm", "request-logs")
    logs = next(v for v in pod_spec.volumes if v.name == "logs")
    assert logs.persistent_volume_claim.read_only is True
    assert pod_spec.automount_service_account_token is False
    assert env_of(pod_spec.containers[0])["HF_HUB_OFFLINE"] == "1"
    assert quality.cronjob_spec("*/15 * * * *", {}, pod_spec).concurrency_policy == "Forbid"


# --- layer and on-prem ----------------------------------------------------------------------


def test_workload_namespace_enforces_the_restricted_profile():
    labels = layer.namespace_labels({"a": "b"})
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.30"
    assert labels["a"] == "b"


def test_prometheus_peer_selects_its_namespace_by_name():
    peer = pods.prometheus_peer("observability")
    assert peer.namespace_selector.match_labels == {"kubernetes.io/metadata.name": "observability"}


def test_onprem_provider_applies_server_side_or_renders():
    args = OnPremClusterArgs(
        namespace="serving",
        pools={},
        gpu_hour_usd=1.2,
        kubeconfig="~/.kube/config",
        render_to_directory="out/rendered",
    )
    assert provider_args(args) == {
        "kubeconfig": "~/.kube/config",
        "context": None,
        "render_yaml_to_directory": "out/rendered",
        "namespace": "serving",
        "enable_server_side_apply": True,
    }


def test_labeler_fits_a_long_instance_label_in_63_characters():
    long = K8sLabeler(environment="e" * 60, tags={"team": "t", "managed-by": "x"})
    labels = long("model-server", "model-server", model="m")
    assert len(labels["app.kubernetes.io/instance"]) <= 63
    assert labels["llm-platform.dev/model"] == "m" and labels["llm-platform.dev/team"] == "t"
    assert "llm-platform.dev/managed-by" not in labels
