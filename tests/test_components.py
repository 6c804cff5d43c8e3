"""Every component, run as the real program under Pulumi's mock monitor, checked on the
properties an operator relies on."""

from __future__ import annotations

import copy
import math

import pytest
import yaml
from conftest import ROOT, stack_spec

from components.plan.runner import run_program
from components.spec import load_spec

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"


def by_kind(records, type_):
    return {r.name: r.inputs for r in records if r.type == type_}


@pytest.fixture(scope="module")
def mixed():
    raw = stack_spec("onprem-mixed")
    return run_program("onprem-mixed", raw, ROOT)


@pytest.fixture(scope="module")
def local():
    return run_program("local", stack_spec("local"), ROOT)


def server(records, model: str) -> dict:
    """A model's server: its Deployment, or its Rollout where it rolls out (support-bot,
    mid-upgrade in onprem-mixed), which carries the same pod template."""
    found = by_kind(records, DEPLOYMENT).get(f"onprem-mixed-{model}-server")
    return found or by_kind(records, ROLLOUT)[f"onprem-mixed-{model}-rollout"]


def pod(dep: dict) -> dict:
    return dep["spec"]["template"]["spec"]


def flag(command: list[str], name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in command if a.startswith(f"{name}=")]
    return value


# What each onprem-mixed model's server must look like, from the stack file and the catalog
# rows (components/catalog/models.yaml, gpus.yaml), worked out here:
# - GPUs (TP). support-bot: Qwen2.5-7B, 7.62e9 params x 2 bytes = 14.2 GiB of bf16 weights
#   plus 8192 tokens x 28 KiB of fp8 KV cache (28 layers x 4 KV heads x 128 x 2 x 1 byte)
#   = 0.2 GiB, within 0.9 x 22.49 GiB of one L4: TP 1. analyst: Llama-3.3-70B at fp8,
#   (70.6e9 - 2 x 128256 x 8192 bf16 embedding/lm_head params) x 1 byte + 2.1e9 x 2 bytes
#   = 67.7 GiB, plus 32768 tokens x 320 KiB of bf16 KV cache (80 layers x 8 x 128 x 2 x 2)
#   = 10 GiB, more than 0.9 x 79.65 GiB of one H100: TP 2.
# - Startup budget: twice (weights at 0.25 GiB/s + 300 s warm-up), to the minute above
#   (components/sizing.py WEIGHT_LOAD_GIB_PER_S, ENGINE_WARMUP_S): 2 x (14.2 / 0.25 + 300)
#   = 714 s -> 720 s; 2 x (67.7 / 0.25 + 300) = 1142 s -> 1200 s.
# - Readiness: vLLM's /v1/models answers once the model is loaded (vllm/entrypoints/openai/
#   models/api_router.py, v0.33.0); Triton's /v2/health/ready once every model is (KServe
#   v2 protocol, triton-inference-server/server docs/protocol).
MIXED = {
    "support-bot": {
        "image": "vllm/vllm-openai:v0.33.0", "gpus": "1", "startup_s": 720,
        "ready": "/v1/models", "node_selector": {"llm-platform.dev/pool": "l4"},
    },
    "analyst": {
        "image": "nvcr.io/nvidia/tritonserver:25.05-trtllm-python-py3", "gpus": "2",
        "startup_s": 1200, "ready": "/v2/health/ready",
        "node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
    },
}


def test_components_have_type_tokens_and_children_derive_their_names(mixed):
    records = mixed
    urns = {r.urn: r for r in records}
    components = {r.type for r in records if not r.custom}
    assert components == {
        "llm-platform:onprem:Cluster", "llm-platform:kubernetes:Layer",
        "llm-platform:kubernetes:GpuRuntime", "llm-platform:kubernetes:ModelServer",
        "llm-platform:kubernetes:Observability", "llm-platform:kubernetes:Pushgateway",
        "llm-platform:kubernetes:Gateway", "llm-platform:kubernetes:ModelPublisher",
        # Prometheus Adapter, rendered with the stack's objects (render mode).
        "kubernetes:helm.sh/v4:Chart"}
    for r in records:
        if r.parent in urns:
            assert r.name.startswith(urns[r.parent].name), (r.name, urns[r.parent].name)


def test_provider_from_kubeconfig_or_render_directory(local, mixed):
    (p_local,) = [r.inputs for r in local if r.type == "pulumi:providers:kubernetes"]
    assert p_local["kubeconfig"] == "~/.kube/config" and p_local["context"] == "onprem-gpu"
    (p_mixed,) = [r.inputs for r in mixed if r.type == "pulumi:providers:kubernetes"]
    assert p_mixed["renderYamlToDirectory"] == "out/onprem-mixed/rendered"


def test_namespaces_carry_pod_security_labels(mixed):
    namespaces = by_kind(mixed, "kubernetes:core/v1:Namespace")
    serving = namespaces["onprem-mixed-ns"]["metadata"]["labels"]
    assert serving["pod-security.kubernetes.io/enforce"] == "restricted"
    gpu = namespaces["onprem-mixed-gpu-ns"]["metadata"]["labels"]
    assert gpu["pod-security.kubernetes.io/enforce"] == "privileged"
    for labels in (serving, gpu):
        assert labels["llm-platform.dev/team"] == "ml-platform"
        assert labels["llm-platform.dev/cost-center"] == "cc-1042"


@pytest.mark.parametrize("model", sorted(MIXED))
def test_model_server_deployment(mixed, model):
    want = MIXED[model]
    dep = server(mixed, model)
    spec = pod(dep)
    (c,) = spec["containers"]
    assert c["image"] == want["image"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == want["gpus"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"]
    assert spec["nodeSelector"] == want["node_selector"]
    shm = next(v for v in spec["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in c["volumeMounts"]
    # restricted profile
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["runAsNonRoot"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == want["startup_s"]
    assert c["readinessProbe"]["httpGet"]["path"] == want["ready"]
    # Drain: a 15 s preStop sleep while endpoints stop routing, the engine's own drain of
    # max(120 s, twice a request: both models' requests take well under a minute, see
    # test_deployments_start_with_the_replicas_average_traffic_needs), then 30 s to free the
    # GPUs (components/engines/base.py PRESTOP_SLEEP_S, TEARDOWN_MARGIN_S).
    assert c["lifecycle"]["preStop"]["sleep"]["seconds"] == 15
    assert spec["terminationGracePeriodSeconds"] == 15 + 120 + 30
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"


def test_deployments_start_with_the_replicas_average_traffic_needs(mixed):
    """Little's law: requests/s x seconds each < one replica's batch -> 1 replica. Each
    request takes at most the TTFT SLO plus its completion at the decode speed of reading
    the weights once a token (support-bot: 14.2 GiB / 300 GB/s = 51 ms; analyst: 33.9 GiB
    a GPU / 3350 GB/s = 11 ms)."""
    records = mixed
    (bot,) = pod(server(records, "support-bot"))["containers"]
    bot_batch = int(flag(bot["command"], "--max-num-seqs"))
    analyst_batch = int(by_kind(records, "kubernetes:core/v1:ConfigMap")[
        "onprem-mixed-analyst-engine-config"]["data"]["triton_max_batch_size"])
    bot_concurrency = 8000 * 3 / 86400 * (1.0 + 200 * 0.051)  # 3.1
    analyst_concurrency = 1500 * 5 / 86400 * (2.0 + 600 * 0.011)  # 0.75
    assert bot_concurrency < bot_batch and analyst_concurrency < analyst_batch
    for model in MIXED:
        assert server(records, model)["spec"]["replicas"] == 1


def test_large_model_gets_a_long_startup_budget(mixed):
    dep = server(mixed, "analyst")
    probe = pod(dep)["containers"][0]["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 20 * 60


def test_vllm_engine_args_come_from_the_stack_file(mixed):
    (c,) = pod(server(mixed, "support-bot"))["containers"]
    # The stack's store (onprem.artifact_claim) holds the pinned revision, copied beside
    # the engine: it serves that directory, never the Hub.
    assert c["command"][:3] == [
        "vllm", "serve", "/models/support-bot/a09a35458c702b33eeacc393d103063234e8bc28"]
    for arg in (
        "--port=8000",  # vLLM's own default (vllm/entrypoints/common/cli_args.py, v0.33.0)
        "--served-model-name=support-bot",
        "--tensor-parallel-size=1",  # MIXED above
        "--max-model-len=8192",  # max_context
        "--kv-cache-dtype=fp8",  # kv_cache_dtype
        "--gpu-memory-utilization=0.9",  # the spec's default, vLLM's too
        # vLLM's default below 70 GiB of GPU memory (EngineArgs.get_batch_defaults,
        # vllm/engine/arg_utils.py, v0.33.0); an L4 has 22.49 GiB.
        "--max-num-batched-tokens=2048",
        "--enable-prefix-caching",
    ):
        assert arg in c["command"], arg


def test_trtllm_runs_triton_with_mpi_ranks_and_publishes_build_parameters(mixed):
    records = mixed
    (c,) = pod(server(records, "analyst"))["containers"]
    assert c["command"][0] == "mpirun"
    assert c["command"].count("tritonserver") == 2  # one per rank, TP 2 (MIXED above)
    params = by_kind(records, "kubernetes:core/v1:ConfigMap")["onprem-mixed-analyst-engine-config"]
    assert params["data"]["tensor_parallel_size"] == "2"
    assert params["data"]["max_input_len"] == "32768"  # max_context
    # The batch Triton is built for is the one the autoscaler and the alert reason about:
    # scale out at a tenth of it waiting per pod, page when more than it waits.
    batch = int(params["data"]["triton_max_batch_size"])
    hpa = by_kind(records, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")[
        "onprem-mixed-analyst-hpa"]
    assert hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == str(round(batch / 10))
    rules = by_kind(records, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    (saturated,) = [r for g in rules["onprem-mixed-observability-llm-model-analyst"]["spec"]["groups"]
                    for r in g["rules"] if r.get("alert") == "ModelQueueSaturated"]
    assert f"> {batch} and" in saturated["expr"]
    # Mounted where the engine reads its config files; vLLM has none, so no ConfigMap.
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["engine-config"] == "/etc/llm-platform"
    assert "onprem-mixed-support-bot-engine-config" not in by_kind(
        records, "kubernetes:core/v1:ConfigMap"
    )


def test_hf_token_comes_from_a_secret_file(local):
    (c,) = pod(by_kind(local, DEPLOYMENT)["local-assistant-server"])["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HF_TOKEN_PATH"] == "/var/run/secrets/huggingface/token"
    volume = next(v for v in pod(by_kind(local, DEPLOYMENT)["local-assistant-server"])[
        "volumes"] if v["name"] == "hf-token")
    assert volume["secret"]["secretName"] == "hf-token"
    assert all("valueFrom" not in e for e in c["env"])


def test_service_pdb_hpa_servicemonitor_and_netpol(local):
    records = local
    dep = by_kind(records, DEPLOYMENT)["local-assistant-server"]
    selector = dep["spec"]["selector"]["matchLabels"]
    assert selector == {"app.kubernetes.io/component": "model-server",
                        "app.kubernetes.io/name": "assistant"}
    svc = by_kind(records, "kubernetes:core/v1:Service")["local-assistant-svc"]
    assert svc["spec"]["selector"] == selector and svc["spec"]["type"] == "ClusterIP"
    pdb = by_kind(records, "kubernetes:policy/v1:PodDisruptionBudget")["local-assistant-pdb"]
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    assert pdb["spec"]["maxUnavailable"] == 1
    hpa = by_kind(records, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")["local-assistant-hpa"]
    # The batch vLLM runs with; the peak (200 concurrent, the stack file) needs
    # ceil(200 / batch) replicas, within the pool's 2 nodes x 2 L40S at TP 1. The average,
    # 30000 conversations x 4 turns a day at most 0.8 s TTFT + 250 tokens x 18.6 ms
    # (8.03e9 x 2 bytes = 14.96 GiB read per token at 864 GB/s), is 1.39/s x 5.5 s = 7.6
    # concurrent, under one batch.
    (c,) = pod(dep)["containers"]
    batch = int(flag(c["command"], "--max-num-seqs"))
    average = 30000 * 4 / 86400 * (0.8 + 250 * 0.0186)
    assert batch > average
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
        1, min(math.ceil(200 / batch), 2 * 2 // 1))
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "vllm_num_requests_waiting"
    assert hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == str(round(batch / 10))
    # Neither decision is taken faster than a new replica loads: 14.96 GiB at 0.25 GiB/s
    # + 300 s warm-up (components/sizing.py) = 360 s.
    load_s = 14.96 / 0.25 + 300
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] > load_s
    assert hpa["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] > load_s
    sm = by_kind(records, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")[
        "local-assistant-servicemonitor"]
    assert sm["spec"]["selector"]["matchLabels"] == selector
    netpol = by_kind(records, "kubernetes:networking.k8s.io/v1:NetworkPolicy")[
        "local-assistant-netpol"]
    peers = netpol["spec"]["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "gateway"}}} in peers
    assert {"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "monitoring"}}} in peers
    assert netpol["spec"]["policyTypes"] == ["Ingress"]


def _variant(**pool_changes):
    raw = copy.deepcopy(stack_spec("local"))
    raw["gpu_pools"][0].update(pool_changes)
    return load_spec(raw), run_program("local", raw, ROOT)


def test_rollout_uses_surge_only_when_the_pool_has_a_spare_gpu():
    _, tight = _variant(gpus_per_node=1, min_nodes=1, max_nodes=2)
    strategy = by_kind(tight, DEPLOYMENT)["local-assistant-server"]["spec"]["strategy"]
    assert strategy["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    _, roomy = _variant(gpus_per_node=4, max_nodes=2)
    strategy = by_kind(roomy, DEPLOYMENT)["local-assistant-server"]["spec"]["strategy"]
    assert strategy["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_gpu_runtime_pins_its_images_and_reaches_every_pool(mixed):
    daemonsets = by_kind(mixed, "kubernetes:apps/v1:DaemonSet")
    assert set(daemonsets) == {"onprem-mixed-gpu-nvidia-device-plugin",
                               "onprem-mixed-gpu-dcgm-exporter"}
    # The versions GPU Operator v24.9.2 ships (its deployments/gpu-operator/values.yaml).
    images = {"onprem-mixed-gpu-nvidia-device-plugin": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0",
              "onprem-mixed-gpu-dcgm-exporter":
              "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04"}
    for name, ds in daemonsets.items():
        (c,) = pod(ds)["containers"]
        assert c["image"] == images[name]
        terms = pod(ds)["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert len(terms) == 3  # l4, h100 and the training pool


def test_gpu_operator_replaces_the_explicit_daemonsets():
    raw = copy.deepcopy(stack_spec("local"))
    raw["cluster"]["gpu_operator"] = True
    records = run_program("local", raw, ROOT)
    assert not by_kind(records, "kubernetes:apps/v1:DaemonSet")
    releases = by_kind(records, "kubernetes:helm.sh/v3:Release")
    # The pinned chart (components/catalog/versions.yaml, vendored in tests/upstream).
    assert releases["local-gpu-gpu-operator"]["version"] == "v24.9.2"


def test_amd_pool_is_served_with_amd_gpus_and_skipped_by_the_nvidia_runtime():
    raw = copy.deepcopy(stack_spec("local"))
    raw["gpu_pools"].append({"name": "mi300x", "gpu": "MI300X", "gpus_per_node": 8,
                             "max_nodes": 1})
    model = copy.deepcopy(raw["models"][0])
    model.update(name="on-amd", pool="mi300x", engine={
        "kind": "vllm", "image": "rocm/vllm:rocm6.3.1_vllm_0.8.5_20250521"})
    raw["models"].append(model)
    env = load_spec(raw)
    assert any("ROCm device plugin" in w for w in env.warnings)
    records = run_program("local", raw, ROOT)
    (c,) = pod(by_kind(records, DEPLOYMENT)["local-on-amd-server"])["containers"]
    assert c["resources"]["limits"]["amd.com/gpu"] == "1"
    plugin = by_kind(records, "kubernetes:apps/v1:DaemonSet")["local-gpu-nvidia-device-plugin"]
    terms = pod(plugin)["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert len(terms) == 1


def test_environment_without_models_still_plans():
    raw = copy.deepcopy(stack_spec("local"))
    raw["models"] = []
    raw.pop("gateway")  # its teams name the models
    records = run_program("local", raw, ROOT)
    assert set(by_kind(records, DEPLOYMENT)) == {"local-observability-pushgateway-deployment"}
    assert set(by_kind(records, "kubernetes:apps/v1:DaemonSet")) == {
        "local-gpu-nvidia-device-plugin", "local-gpu-dcgm-exporter"}
    assert not by_kind(records, "kubernetes:batch/v1:CronJob")  # nothing to check quality of


def test_rendered_gateway_uses_the_existing_database_and_writes_no_secret(mixed):
    """onprem-mixed renders, with a Postgres of its own: no operator, no Secret (made with
    kubectl), one route (Triton's analyst speaks no OpenAI API), in the serving namespace."""
    from components.kubernetes.gateway import objects

    (gateway,) = [r for r in mixed if r.type == "llm-platform:kubernetes:Gateway"]
    made = [r for r in mixed if r.parent == gateway.urn]
    kinds = {(r.type.rsplit(":", 1)[-1], r.inputs["metadata"]["name"]) for r in made}
    assert not [k for k in kinds if k[0] in ("Secret", "Cluster", "Namespace", "Chart")]
    assert {r.inputs["metadata"]["namespace"] for r in made} == {"llm-mixed"}
    (job,) = [r for r in made if r.type == "kubernetes:batch/v1:Job"]
    assert job.inputs["metadata"]["name"].startswith(objects.JOB_PREFIX + "-")
    env = {e["name"]: e for e in pod(by_kind(mixed, DEPLOYMENT)["onprem-mixed-gateway-deployment"])[
        "containers"][0]["env"]}
    assert env["GATEWAY_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "llm-gateway-secrets", "key": "database-url"}
    config = yaml.safe_load(by_kind(mixed, "kubernetes:core/v1:ConfigMap")[
        "onprem-mixed-gateway-config"]["data"]["config.yaml"])
    assert [m["model_name"] for m in config["model_list"]] == ["support-bot"]
    claim = by_kind(mixed, "kubernetes:core/v1:PersistentVolumeClaim")[
        "onprem-mixed-gateway-request-log"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "nfs-rwx"


def test_program_refuses_an_invalid_spec_under_the_engine():
    """Under the engine (`pulumi up`) the program logs one error per problem and stops."""
    import pulumi

    raw = copy.deepcopy(stack_spec("local"))
    raw["models"][0]["engine"]["image"] = "vllm/vllm-openai:latest"
    with pytest.raises(pulumi.RunError, match="invalid stack config: 1 problem"):
        run_program("local", raw, ROOT)


def test_every_topology_the_spec_accepts_has_a_foundation():
    from typing import get_args

    from components.spec import Topology
    from components.topology import FOUNDATIONS

    assert set(FOUNDATIONS) == set(get_args(Topology))
