"""What the scheduler would refuse, checked on every example stack's rendered plan: pods that
do not fit their nodes, GPU pools whose taints keep the GPU runtime out, and rollouts that
wait forever for a ReadWriteOnce disk attached to another node."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, STACKS, run_cli, stack_spec, write_stack

from components import catalog, scheduling
from components.spec import SpecError, load_spec

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
# A model with a rollout is served by an Argo Rollouts Rollout: the same pod template, and a
# canary adds pods beside the stable ones as a surge does (the experiment's candidate, then
# maxSurge 1 at each traffic step).
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
RESERVE = {
    r["id"]: r
    for r in yaml.safe_load((ROOT / "components/catalog/node_reserve.yaml").read_text())["clouds"]
}
# AKS taints every node of a Spot pool itself (learn.microsoft.com/azure/aks/spot-node-pool).
AKS_SPOT_TAINT = ("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule")
EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute",
           "PREFER_NO_SCHEDULE": "PreferNoSchedule"}


# --- node allocatable, worked out here from the catalog's numbers ---------------------------

def _cpu_reserve_m(cloud: str, vcpu: int) -> float:
    if cloud == "azure":
        table = {1: 60, 2: 100, 4: 140, 8: 180, 16: 260, 32: 420, 64: 740}
        larger = [c for c in table if c >= vcpu]
        return table[min(larger)] if larger else 740 + (vcpu - 64) * 10
    # EKS and GKE: 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% above.
    return (60 * min(vcpu, 1) + 10 * min(max(vcpu - 1, 0), 1)
            + 5 * min(max(vcpu - 2, 0), 2) + 2.5 * max(vcpu - 4, 0))


def _memory_reserve_mib(cloud: str, instance: str, gib: float) -> float:
    if cloud == "aws":
        return 11 * RESERVE["aws"]["max_pods"][instance] + 255
    if cloud == "azure":
        return min(20 * 250 + 50, 0.25 * gib * 1024)
    tiers = [(4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (math.inf, 0.02)]
    left, reserved = gib, 0.0
    for size, fraction in tiers:
        reserved += min(left, size) * fraction
        left = max(left - size, 0)
    return reserved * 1024


def _instance_allocatable(instance: str) -> tuple[float, float]:
    """(millicores, MiB) a node of this type offers pods."""
    inst = catalog.instances()[instance]
    capacity = inst.memory_gib * 1024 * (1 - 0.075)  # Karpenter's VM overhead estimate
    memory = capacity - _memory_reserve_mib(inst.cloud, inst.id, inst.memory_gib) - 100
    return inst.vcpu * 1000 - _cpu_reserve_m(inst.cloud, inst.vcpu), memory


def _pool_allocatable(raw: dict, pool: dict) -> tuple[float, float] | None:
    types = [pool.get("instance_type"), *pool.get("extra_instance_types", [])]
    types = [t for t in types if t]
    if types:
        nodes = [_instance_allocatable(t) for t in types]
        return min(n[0] for n in nodes), min(n[1] for n in nodes)
    declared = pool.get("node_allocatable")
    if declared is None:
        return None
    return declared["cpu"] * 1000, declared["memory_gib"] * 1024


def test_allocatable_of_the_nodes_the_examples_run_on():
    """By hand: g6e.xlarge has 4 vCPU and 32 GiB; EKS keeps 80m and 11 x 58 pods + 255 MiB,
    evicts under 100 MiB; 7.5% of the memory never reaches the kernel."""
    assert scheduling.instance_allocatable("g6e.xlarge") == scheduling.Resources(3920, 29317)
    # g2-standard-4 (16 GB): GKE keeps 1 + 0.8 + 0.8 GiB = 2662 MiB.
    assert scheduling.instance_allocatable("g2-standard-4") == scheduling.Resources(3920, 12392)
    # NC24ads A100 v4 (24 vCPU, 220 GiB): AKS keeps 420m (the 32-core row) and 5050 MiB.
    assert scheduling.instance_allocatable("Standard_NC24ads_A100_v4") == scheduling.Resources(
        23580, math.floor(220 * 1024 * 0.925) - 5050 - 100)


@pytest.mark.parametrize("instance", sorted(catalog.instances()))
def test_every_catalog_instance_allocatable_matches_the_clouds_formula(instance):
    cpu, memory = _instance_allocatable(instance)
    got = scheduling.instance_allocatable(instance)
    assert abs(got.cpu_m - cpu) <= 1 and abs(got.memory_mib - memory) <= 2


# --- what lands where in the rendered plans -------------------------------------------------

def _quantity(value: str) -> float:
    units = {"m": 0.001, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def _pod(resource: dict) -> dict:
    return resource["inputs"]["spec"]["template"]["spec"]


def _servers(plan) -> list[dict]:
    """Every Deployment and Rollout: the objects whose pod templates make pods."""
    return plan.resources(DEPLOYMENT) + plan.resources(ROLLOUT)


def _amounts(containers: list[dict], kind: str) -> tuple[float, float]:
    """(millicores, MiB) of one kind (requests or limits) summed over containers."""
    cpu = sum(_quantity(c["resources"][kind].get("cpu", "0")) * 1000 for c in containers)
    mem = sum(_quantity(c["resources"][kind].get("memory", "0Mi")) for c in containers)
    return round(cpu, 3), round(mem, 3)


def _effective(pod: dict, kind: str) -> tuple[float, float]:
    """What the scheduler counts: the containers' sum, or the largest init container."""
    cpu, mem = _amounts(pod["containers"], kind)
    for init in pod.get("initContainers", []):
        icpu, imem = _amounts([init], kind)
        cpu, mem = max(cpu, icpu), max(mem, imem)
    return cpu, mem


def _labels(pool: dict) -> dict[str, str]:
    return pool.get("node_labels") or {"llm-platform.dev/pool": pool["name"]}


def _selects(daemonset: dict, labels: dict[str, str]) -> bool:
    terms = _pod(daemonset)["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    return any(all(labels.get(e["key"]) in e["values"] for e in t["matchExpressions"])
               for t in terms)


def _tolerates(tolerations: list[dict], taint: tuple[str, str | None, str]) -> bool:
    key, value, effect = taint
    for t in tolerations:
        if t.get("effect") not in (None, effect):
            continue
        if t.get("operator") == "Exists" and t.get("key") in (None, key):
            return True
        # A taint of unknown value (on-prem) is tolerated only by Exists.
        if t.get("key") == key and value is not None and t.get("value") == value:
            return True
    return False


def _gpu_pools(raw: dict) -> list[dict]:
    return [p for p in raw["gpu_pools"] if catalog.gpus()[p["gpu"]].vendor == "nvidia"]


def _cloud_pool_taints(plan) -> dict[str, set[tuple[str, str | None, str]]]:
    """pool name -> taints, read from the rendered cloud node pools."""
    out: dict[str, set] = {}
    for ng in plan.resources("aws:eks/nodeGroup:NodeGroup"):
        name = ng["inputs"]["labels"].get("llm-platform.dev/pool")
        out[name] = {(t["key"], t.get("value"), EFFECTS[t["effect"]])
                     for t in ng["inputs"].get("taints", [])}
    for np_ in plan.resources("gcp:container/nodePool:NodePool"):
        config = np_["inputs"]["nodeConfig"]
        out[config["labels"].get("llm-platform.dev/pool")] = {
            (t["key"], t.get("value"), EFFECTS[t["effect"]]) for t in config.get("taints", [])}
    for ap in plan.resources("azure-native:containerservice:AgentPool"):
        taints = set()
        for t in ap["inputs"].get("nodeTaints", []):
            kv, effect = t.rsplit(":", 1)
            key, value = kv.split("=", 1)
            taints.add((key, value, effect))
        if ap["inputs"].get("scaleSetPriority") == "Spot":
            taints.add(AKS_SPOT_TAINT)
        out[ap["inputs"]["nodeLabels"].get("llm-platform.dev/pool")] = taints
    return out


def _pool_taints(plan, raw: dict) -> dict[str, set[tuple[str, str | None, str]]]:
    """Every GPU pool's taints: read from the rendered cloud node pools (with the taint AKS
    adds to Spot pools); on-prem nodes carry the GPU taint their admin set, of any value."""
    taints = _cloud_pool_taints(plan)
    for pool in raw["gpu_pools"]:
        taints.setdefault(pool["name"], {("nvidia.com/gpu", None, "NoSchedule")})
    return taints


def _may_land(pod: dict, labels: dict[str, str], taints: set) -> bool:
    selector = pod.get("nodeSelector") or {}
    return all(labels.get(k) == v for k, v in selector.items()) and all(
        _tolerates(pod.get("tolerations", []), t) for t in taints)


@pytest.mark.parametrize("stack", STACKS)
def test_pods_fit_every_pool_they_may_land_on(planned, stack):
    """Per node: as many pods of each Deployment that may land there as its GPUs allow, plus
    every DaemonSet that lands there, within the node's allocatable, for requests and for the
    Deployments' limits."""
    plan, raw = planned[stack], stack_spec(stack)
    taints = _pool_taints(plan, raw)
    daemonsets = plan.resources(DAEMONSET)
    landed = set()
    for pool in raw["gpu_pools"]:
        allocatable = _pool_allocatable(raw, pool)
        assert allocatable is not None, f"{stack}: pool {pool['name']} has no known node size"
        labels = _labels(pool)
        ds = [d for d in daemonsets if _selects(d, labels)]
        ds_cpu = sum(_effective(_pod(d), "requests")[0] for d in ds)
        ds_mem = sum(_effective(_pod(d), "requests")[1] for d in ds)
        assert ds_cpu <= allocatable[0] and ds_mem <= allocatable[1]
        for dep in _servers(plan):
            pod = _pod(dep)
            if not _may_land(pod, labels, taints[pool["name"]]):
                continue
            gpus = sum(int(c["resources"]["limits"].get("nvidia.com/gpu", 0))
                       for c in pod["containers"])
            per_node = pool.get("gpus_per_node", 1) // gpus if gpus else 1
            for kind in ("requests", "limits"):
                cpu, mem = _effective(pod, kind)
                assert per_node * cpu + ds_cpu <= allocatable[0], (stack, dep["name"], kind)
                assert per_node * mem + ds_mem <= allocatable[1], (stack, dep["name"], kind)
            landed.add(dep["name"])
    assert len(landed) == len(raw["models"])


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_daemonsets_run_on_every_gpu_pool_and_tolerate_all_its_taints(planned, stack):
    plan, raw = planned[stack], stack_spec(stack)
    cloud_pools = _cloud_pool_taints(plan)
    all_taints = _pool_taints(plan, raw)
    cloud = raw.get("hybrid", {}).get("cloud") or (
        raw["topology"] if raw["topology"] in ("aws", "gcp", "azure") else None)
    daemonsets = plan.resources(DAEMONSET)
    for pool in _gpu_pools(raw):
        in_cloud = pool["name"] in cloud_pools
        taints = all_taints[pool["name"]]
        assert taints, f"{stack}: GPU pool {pool['name']} has no taint"
        running = {d["inputs"]["metadata"]["name"]: d for d in daemonsets
                   if _selects(d, _labels(pool))}
        needed = {"nvidia-device-plugin", "dcgm-exporter"}
        if in_cloud and cloud == "gcp":
            needed.discard("nvidia-device-plugin")  # GKE runs its own
        if in_cloud and raw["topology"] == "hybrid":
            needed.discard("dcgm-exporter")  # no Prometheus on the cloud side
        assert set(running) == needed, (stack, pool["name"])
        for name, ds in running.items():
            for taint in taints:
                assert _tolerates(_pod(ds).get("tolerations", []), taint), (stack, name, taint)
        for dep in _servers(plan):
            if _pod(dep).get("nodeSelector") == _labels(pool):
                for taint in taints:
                    assert _tolerates(_pod(dep)["tolerations"], taint), (dep["name"], taint)


def test_gke_gets_no_device_plugin_and_a_dcgm_exporter_set_up_for_gke(planned):
    daemonsets = {d["inputs"]["metadata"]["name"]: d for d in planned["gcp"].resources(DAEMONSET)}
    assert "nvidia-device-plugin" not in daemonsets
    pod = _pod(daemonsets["dcgm-exporter"])
    (c,) = pod["containers"]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib64"
    assert env["DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE"] == "device-name"
    assert {"name": "nvidia", "hostPath": {"path": "/home/kubernetes/bin/nvidia",
                                           "type": "Directory"}} in pod["volumes"]
    assert c["securityContext"]["privileged"] is True


def _claims(plan) -> dict[str, list[str]]:
    return {p["inputs"]["metadata"]["name"]: p["inputs"]["spec"]["accessModes"]
            for p in plan.resources("kubernetes:core/v1:PersistentVolumeClaim")}


@pytest.mark.parametrize("stack", STACKS)
def test_no_deployment_that_can_surge_or_scale_shares_a_read_write_once_claim(planned, stack):
    """Deployments and Rollouts alike."""
    plan = planned[stack]
    claims = _claims(plan)
    hpa_max = {h["inputs"]["spec"]["scaleTargetRef"]["name"]: h["inputs"]["spec"]["maxReplicas"]
               for h in plan.resources("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")}
    for dep in _servers(plan):
        strategy = dep["inputs"]["spec"].get("strategy", {})
        # An unset RollingUpdate surges 25%, which rounds up to one pod; a canary always adds
        # pods.
        surge = dep["type"] == ROLLOUT or strategy.get("type") != "Recreate" and strategy.get(
            "rollingUpdate", {}).get("maxSurge", "25%") not in (0, "0", "0%")
        name = dep["inputs"]["metadata"]["name"]
        many = hpa_max.get(name, dep["inputs"]["spec"].get("replicas", 1)) > 1
        for volume in _pod(dep).get("volumes", []):
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            if claim is not None and (surge or many):
                assert claims[claim] != ["ReadWriteOnce"], (stack, name, claim)


def test_cloud_model_servers_copy_weights_into_a_volume_of_their_own(planned):
    for stack in ("aws", "gcp", "azure"):
        (server,) = [d for d in planned[stack].resources(DEPLOYMENT) if d["name"].endswith(
            "-assistant-server")]
        (weights,) = [v for v in _pod(server)["volumes"] if v["name"] == "weights"]
        template = weights["ephemeral"]["volumeClaimTemplate"]["spec"]
        assert template["accessModes"] == ["ReadWriteOnce"]
        assert _pod(server)["initContainers"][0]["name"] == "fetch-weights"
        assert server["inputs"]["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 1


# --- the spec refuses what cannot schedule or roll ------------------------------------------

def _problems(raw: dict) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_spec(raw)
    return exc.value.problems


def test_spec_refuses_a_model_that_does_not_fit_its_nodes(scratch_project: Path):
    raw = copy.deepcopy(stack_spec("local"))
    raw["gpu_pools"][0]["node_allocatable"] = {"cpu": 3, "memory_gib": 16}
    write_stack(scratch_project, "small", raw)
    proc = run_cli("plan", "--stack", "small", "--project", str(scratch_project))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    # 3 CPUs less the two GPU DaemonSets' 100m, halved for one of two GPUs: 1.45 < 2.
    assert "models[0].pool: model 'assistant' needs 2 CPU / 9.0 GiB" in line
    assert "pool 'l40s'" in line and "1.45 CPU / 7.9 GiB" in line
    assert not (scratch_project / "out").exists()


def test_spec_refuses_a_shared_read_write_once_claim_that_a_rollout_would_wait_for(
        scratch_project: Path):
    raw = copy.deepcopy(stack_spec("local"))
    raw["models"][0]["weights"]["access_mode"] = "ReadWriteOnce"
    write_stack(scratch_project, "rwo", raw)
    proc = run_cli("plan", "--stack", "rwo", "--project", str(scratch_project))
    assert proc.returncode == 2
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert "models[0].weights.access_mode: a ReadWriteOnce claim attaches to one node" in line
    assert "up to 2 replicas" in line and "volume: per-pod" in line


def test_spec_accepts_a_shared_read_write_once_claim_for_a_single_pod_that_never_surges():
    raw = copy.deepcopy(stack_spec("local"))
    raw["models"][0]["weights"]["access_mode"] = "ReadWriteOnce"
    raw["models"][0]["slo"]["peak_concurrent_requests"] = 10
    raw["models"][0]["traffic"]["conversations_per_day"] = 100
    raw["gpu_pools"][0].update(gpus_per_node=1, min_nodes=1, max_nodes=1)
    env = load_spec(raw)
    assert env.plans["assistant"].replicas_max == 1


@pytest.mark.parametrize(("change", "expected"), [
    (lambda r: r["models"][0]["weights"].update(volume="per-pod", access_mode="ReadWriteMany"),
     "llm-platform:spec.models[0].weights.access_mode: only for volume: shared"),
    (lambda r: r["gpu_pools"][0].update(node_allocatable={"cpu": 8, "memory_gib": 64}),
     "llm-platform:spec.gpu_pools[0].node_allocatable: pool 'l40s' runs on aws"),
    (lambda r: r["cluster"].update(gpu_operator=True),
     "llm-platform:spec.cluster.gpu_operator: GKE installs the NVIDIA driver"),
])
def test_spec_refuses_incoherent_weights_and_node_settings(change, expected):
    stack = "gcp" if "gpu_operator" in expected else "aws" if "aws" in expected else "local"
    raw = copy.deepcopy(stack_spec(stack))
    raw.setdefault("cluster", {})
    change(raw)
    assert [p for p in _problems(raw) if p.startswith(expected)], _problems(raw)


def test_spec_refuses_a_tensorrt_llm_engine_on_an_empty_per_pod_volume():
    # onprem-engines has no artifact store to copy a built engine from.
    raw = copy.deepcopy(stack_spec("onprem-engines"))
    del raw["models"][1]["weights"]
    (line,) = _problems(raw)
    assert line.startswith("llm-platform:spec.models[1].weights.volume: model 'chat-trtllm' "
                           "serves a TensorRT-LLM engine built beforehand")


def test_on_prem_model_server_without_a_store_fills_its_own_volume_from_the_hub(planned):
    """local has no artifact store: vLLM downloads the pinned commit into its weights
    volume itself (stacks/Pulumi.local.yaml), with nothing copied or verified first."""
    (server,) = [d for d in planned["local"].resources(DEPLOYMENT)
                 if d["name"].endswith("-assistant-server")]
    pod = _pod(server)
    (weights,) = [v for v in pod["volumes"] if v["name"] == "weights"]
    assert "persistentVolumeClaim" in weights and "initContainers" not in pod
    assert pod["containers"][0]["command"][2:4] == [
        "meta-llama/Llama-3.1-8B-Instruct", "--revision=0e9e39f249a16976918f6564b8830bc894c89659"]


def test_on_prem_pool_without_a_node_size_gets_the_floor_and_a_warning():
    raw = copy.deepcopy(stack_spec("local"))
    del raw["gpu_pools"][0]["node_allocatable"]
    env = load_spec(raw)
    (warning,) = [w for w in env.warnings if "node_allocatable" in w]
    assert warning.startswith("llm-platform:spec.gpu_pools[0].node_allocatable: pool 'l40s'")
    assert "2 CPU / 9.0 GiB" in warning
    sized = scheduling.model_pod_resources(None, 2, 1, 2)
    assert sized.limits == sized.requests == scheduling.Resources(2000, 9 * 1024)
