"""Every component, run as the real program under Pulumi's mock monitor, checked on the
properties an operator relies on."""

from __future__ import annotations

import copy

import pytest
from conftest import ROOT, stack_spec

from components.kubernetes.gpu_runtime import GPU_OPERATOR_CHART_VERSION
from components.plan.runner import run_program
from components.spec import load_spec

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def by_kind(records, type_):
    return {r.name: r.inputs for r in records if r.type == type_}


@pytest.fixture(scope="module")
def mixed():
    raw = stack_spec("onprem-mixed")
    return load_spec(raw), run_program("onprem-mixed", raw, ROOT)


@pytest.fixture(scope="module")
def local():
    raw = stack_spec("local")
    return load_spec(raw), run_program("local", raw, ROOT)


def pod(dep: dict) -> dict:
    return dep["spec"]["template"]["spec"]


def test_components_have_type_tokens_and_children_derive_their_names(mixed):
    _, records = mixed
    urns = {r.urn: r for r in records}
    components = {r.type for r in records if not r.custom}
    assert components == {
        "llm-platform:onprem:Cluster", "llm-platform:kubernetes:Layer",
        "llm-platform:kubernetes:GpuRuntime", "llm-platform:kubernetes:ModelServer",
        "llm-platform:kubernetes:Observability", "llm-platform:kubernetes:Pushgateway",
        # Prometheus Adapter, rendered with the stack's objects (render mode).
        "kubernetes:helm.sh/v4:Chart"}
    for r in records:
        if r.parent in urns:
            assert r.name.startswith(urns[r.parent].name), (r.name, urns[r.parent].name)


def test_provider_from_kubeconfig_or_render_directory(local, mixed):
    (p_local,) = [r.inputs for r in local[1] if r.type == "pulumi:providers:kubernetes"]
    assert p_local["kubeconfig"] == "~/.kube/config" and p_local["context"] == "onprem-gpu"
    (p_mixed,) = [r.inputs for r in mixed[1] if r.type == "pulumi:providers:kubernetes"]
    assert p_mixed["renderYamlToDirectory"] == "out/onprem-mixed/rendered"


def test_namespaces_carry_pod_security_labels(mixed):
    namespaces = by_kind(mixed[1], "kubernetes:core/v1:Namespace")
    serving = namespaces["onprem-mixed-ns"]["metadata"]["labels"]
    assert serving["pod-security.kubernetes.io/enforce"] == "restricted"
    gpu = namespaces["onprem-mixed-gpu-ns"]["metadata"]["labels"]
    assert gpu["pod-security.kubernetes.io/enforce"] == "privileged"
    for labels in (serving, gpu):
        assert labels["llm-platform.dev/team"] == "ml-platform"
        assert labels["llm-platform.dev/cost-center"] == "cc-1042"


@pytest.mark.parametrize("model", ["support-bot", "analyst"])
def test_model_server_deployment(mixed, model):
    env, records = mixed
    spec_model = next(m for m in env.spec.models if m.name == model)
    plan = env.plans[model]
    dep = by_kind(records, DEPLOYMENT)[f"onprem-mixed-{model}-server"]
    spec = pod(dep)
    (c,) = spec["containers"]
    assert c["image"] == spec_model.engine.image and not c["image"].endswith(":latest")
    assert c["resources"]["limits"]["nvidia.com/gpu"] == str(plan.tensor_parallel)
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"]
    pool = env.spec.pool(spec_model.pool)
    assert spec["nodeSelector"] == (dict(pool.node_labels) or {"llm-platform.dev/pool": pool.name})
    shm = next(v for v in spec["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in c["volumeMounts"]
    # restricted profile
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["runAsNonRoot"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    # probes: readiness means loaded; startup budget covers a load
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= plan.startup_budget_s
    ready = c["readinessProbe"]["httpGet"]["path"]
    assert ready == {"vllm": "/v1/models", "tensorrt-llm": "/v2/health/ready"}[
        spec_model.engine.kind]
    # drain
    assert c["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
    assert spec["terminationGracePeriodSeconds"] > c["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert dep["spec"]["replicas"] == plan.replicas_min


def test_large_model_gets_a_long_startup_budget(mixed):
    dep = by_kind(mixed[1], DEPLOYMENT)["onprem-mixed-analyst-server"]
    probe = pod(dep)["containers"][0]["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 20 * 60


def test_vllm_engine_args_come_from_the_sizing_plan(mixed):
    env, records = mixed
    (c,) = pod(by_kind(records, DEPLOYMENT)["onprem-mixed-support-bot-server"])["containers"]
    assert c["command"][:3] == ["vllm", "serve", "Qwen/Qwen2.5-7B-Instruct"]
    for arg in env.plans["support-bot"].engine_args:
        assert arg in c["command"]
    assert "--kv-cache-dtype=fp8" in c["command"] and "--enable-prefix-caching" in c["command"]


def test_trtllm_runs_triton_with_mpi_ranks_and_publishes_build_parameters(mixed):
    env, records = mixed
    plan = env.plans["analyst"]
    (c,) = pod(by_kind(records, DEPLOYMENT)["onprem-mixed-analyst-server"])["containers"]
    assert c["command"][0] == "mpirun"
    assert c["command"].count("tritonserver") == plan.tensor_parallel == 2  # one per rank
    params = by_kind(records, "kubernetes:core/v1:ConfigMap")["onprem-mixed-analyst-engine-config"]
    assert params["data"]["tensor_parallel_size"] == str(plan.tensor_parallel)
    assert params["data"]["triton_max_batch_size"] == str(plan.max_num_seqs)
    # Mounted where the engine reads its config files; vLLM has none, so no ConfigMap.
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["engine-config"] == "/etc/llm-platform"
    assert "onprem-mixed-support-bot-engine-config" not in by_kind(
        records, "kubernetes:core/v1:ConfigMap"
    )


def test_hf_token_comes_from_a_secret_file(local):
    (c,) = pod(by_kind(local[1], DEPLOYMENT)["local-assistant-server"])["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HF_TOKEN_PATH"] == "/var/run/secrets/huggingface/token"
    volume = next(v for v in pod(by_kind(local[1], DEPLOYMENT)["local-assistant-server"])[
        "volumes"] if v["name"] == "hf-token")
    assert volume["secret"]["secretName"] == "hf-token"
    assert all("valueFrom" not in e for e in c["env"])


def test_service_pdb_hpa_servicemonitor_and_netpol(local):
    env, records = local
    plan = env.plans["assistant"]
    selector = by_kind(records, DEPLOYMENT)["local-assistant-server"]["spec"]["selector"][
        "matchLabels"]
    svc = by_kind(records, "kubernetes:core/v1:Service")["local-assistant-svc"]
    assert svc["spec"]["selector"] == selector and svc["spec"]["type"] == "ClusterIP"
    pdb = by_kind(records, "kubernetes:policy/v1:PodDisruptionBudget")["local-assistant-pdb"]
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    hpa = by_kind(records, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")["local-assistant-hpa"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
        plan.replicas_min, plan.replicas_max)
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "vllm_num_requests_waiting"
    load_s = plan.startup_budget_s / 2  # the budget is twice the expected load
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
    daemonsets = by_kind(mixed[1], "kubernetes:apps/v1:DaemonSet")
    assert set(daemonsets) == {"onprem-mixed-gpu-nvidia-device-plugin",
                               "onprem-mixed-gpu-dcgm-exporter"}
    for ds in daemonsets.values():
        (c,) = pod(ds)["containers"]
        assert ":" in c["image"] and not c["image"].endswith(":latest")
        terms = pod(ds)["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert len(terms) == 3  # l4, h100 and the training pool


def test_gpu_operator_replaces_the_explicit_daemonsets():
    raw = copy.deepcopy(stack_spec("local"))
    raw["cluster"]["gpu_operator"] = True
    records = run_program("local", raw, ROOT)
    assert not by_kind(records, "kubernetes:apps/v1:DaemonSet")
    releases = by_kind(records, "kubernetes:helm.sh/v3:Release")
    assert releases["local-gpu-gpu-operator"]["version"] == GPU_OPERATOR_CHART_VERSION


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
    records = run_program("local", raw, ROOT)
    assert set(by_kind(records, DEPLOYMENT)) == {"local-observability-pushgateway-deployment"}
    assert by_kind(records, "kubernetes:apps/v1:DaemonSet")
    assert not by_kind(records, "kubernetes:batch/v1:CronJob")  # nothing to check quality of


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
