"""What the scheduler would say: a node's allocatable CPU and memory from the catalog, the
share of it a model server may ask for, what the GPU runtime puts on every GPU node, and
whether a rollout can surge. Pure: no Pulumi, so the spec check and the components share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components import catalog, clouds

if TYPE_CHECKING:
    from components.spec import EnvironmentSpec, GpuPool

GIB_MIB = 1024


@dataclass(frozen=True)
class Resources:
    cpu_m: int
    memory_mib: int

    def minus(self, other: Resources) -> Resources:
        return Resources(self.cpu_m - other.cpu_m, self.memory_mib - other.memory_mib)

    def times(self, n: int) -> Resources:
        return Resources(self.cpu_m * n, self.memory_mib * n)

    def fits_in(self, other: Resources) -> bool:
        return self.cpu_m <= other.cpu_m and self.memory_mib <= other.memory_mib

    def quantities(self) -> dict[str, str]:
        return {"cpu": f"{self.cpu_m}m", "memory": f"{self.memory_mib}Mi"}

    def describe(self) -> str:
        return f"{self.cpu_m / 1000:g} CPU / {self.memory_mib / GIB_MIB:.1f} GiB"


@dataclass(frozen=True)
class PodResources:
    requests: Resources
    limits: Resources


@dataclass(frozen=True)
class GpuNodeRuntime:
    """What a cluster's GPU nodes already run, which decides what the GPU runtime adds.

    GKE installs the driver under /home/kubernetes/bin/nvidia and runs its own device plugin
    (node pools with gpu_driver_installation_config); its plugin names devices nvidia0...
    rather than by UUID. EKS AL2023 NVIDIA AMIs and AKS Ubuntu GPU nodes ship the driver and
    container toolkit but no device plugin."""

    device_plugin: bool = True
    driver_host_path: str | None = None
    gpu_id_type: str | None = None


# Each explicit GPU DaemonSet (gpu_runtime.py) requests this on every GPU node it runs on.
GPU_DAEMONSET_REQUEST = Resources(cpu_m=50, memory_mib=64)

# The engine's host memory beside its GPUs: the server and engine-core processes, CUDA
# context and tokenizer. Weights do not pass through it whole: vLLM's loader streams one
# tensor at a time out of the mmap'd safetensors (safetensors_weights_iterator in
# vllm/model_executor/model_loader/weight_utils.py), so the file pages are reclaimable cache.
ENGINE_HOST_MIB = 8 * GIB_MIB
# /dev/shm is memory-backed and counts against the pod's memory: NCCL and the engine's
# tensor-parallel workers exchange tensors through it; one process per pod needs little.
SHM_MIB_PER_GPU = 4 * GIB_MIB
SHM_MIB_SINGLE = 1 * GIB_MIB


def node_runtime(cloud: str | None) -> GpuNodeRuntime:
    """How the GPU nodes of `cloud` (None: on-prem) come: its registry entry says."""
    runtime = clouds.get(cloud).gpu_node_runtime if cloud is not None else None
    return runtime or GpuNodeRuntime()


def _tiered(total: float, tiers: list[tuple[float | None, float]]) -> float:
    reserved, start = 0.0, 0.0
    for upper, fraction in tiers:
        end = total if upper is None else min(total, upper)
        if end > start:
            reserved += (end - start) * fraction
        start = total if upper is None else upper
    return reserved


def cpu_reserve_m(reserve: catalog.NodeReserve, vcpu: int) -> int:
    if reserve.cpu_tiers:
        tiers = [(t.up_to_cores, t.fraction) for t in reserve.cpu_tiers]
        return math.ceil(_tiered(vcpu, tiers) * 1000)
    table = sorted(reserve.cpu_table, key=lambda s: s.cores)
    for step in table:
        if vcpu <= step.cores:
            return step.millicores
    last, before = table[-1], table[-2]
    slope = (last.millicores - before.millicores) / (last.cores - before.cores)
    return math.ceil(last.millicores + (vcpu - last.cores) * slope)


def memory_reserve_mib(reserve: catalog.NodeReserve, instance: str, memory_gib: float) -> int:
    if reserve.memory_tiers:
        tiers = [(t.up_to_gib, t.fraction) for t in reserve.memory_tiers]
        return math.ceil(_tiered(memory_gib, tiers) * GIB_MIB)
    pods = reserve.max_pods.get(instance, reserve.default_max_pods)
    if pods is None:
        raise KeyError(f"components/catalog/node_reserve.yaml: no max pods for {instance}")
    mib = reserve.memory_per_pod_mib * pods + reserve.memory_base_mib
    if reserve.memory_cap_fraction is not None:
        mib = min(mib, math.ceil(memory_gib * GIB_MIB * reserve.memory_cap_fraction))
    return mib


def instance_allocatable(instance_id: str) -> Resources:
    """A cloud node's allocatable: the catalog's vCPU and memory less the cloud's reserve,
    its eviction threshold and the memory the VM never shows the kernel."""
    inst = catalog.instances()[instance_id]
    reserve = catalog.node_reserves()[inst.cloud]
    capacity_mib = math.floor(inst.memory_gib * GIB_MIB * (1 - reserve.vm_memory_overhead_fraction))
    memory = (
        capacity_mib
        - memory_reserve_mib(reserve, inst.id, inst.memory_gib)
        - reserve.eviction_hard_mib
    )
    return Resources(cpu_m=inst.vcpu * 1000 - cpu_reserve_m(reserve, inst.vcpu), memory_mib=memory)


def pool_allocatable(spec: EnvironmentSpec, pool: GpuPool) -> Resources | None:
    """The smallest allocatable among the node types a pool may start; for an on-prem pool,
    what the spec declares (None when it declares nothing)."""
    if pool in spec.cloud_pools():
        types = [t for t in [pool.instance_type, *pool.extra_instance_types] if t is not None]
        nodes = [instance_allocatable(t) for t in types]
        if not nodes:  # the spec check reports the missing instance type
            return None
        return Resources(min(n.cpu_m for n in nodes), min(n.memory_mib for n in nodes))
    declared = pool.node_allocatable
    if declared is None:
        return None
    return Resources(round(declared.cpu * 1000), math.floor(declared.memory_gib * GIB_MIB))


def gpu_daemonsets(spec: EnvironmentSpec, pool: GpuPool) -> int:
    """How many of our explicit GPU DaemonSets run on each node of `pool`: the device plugin
    unless the cloud runs its own, and the DCGM exporter where Prometheus scrapes it (not on
    a hybrid's cloud cluster). None on AMD pools, and none with the GPU Operator, whose
    DaemonSets come from its chart."""
    if spec.cluster.gpu_operator or catalog.gpus()[pool.gpu].vendor != "nvidia":
        return 0
    in_cloud = pool in spec.cloud_pools()
    runtime = node_runtime(spec.cloud if in_cloud else None)
    exporter = not (in_cloud and spec.topology == "hybrid")
    return int(runtime.device_plugin) + int(exporter)


def shm_mib(tensor_parallel: int) -> int:
    return SHM_MIB_PER_GPU * tensor_parallel if tensor_parallel > 1 else SHM_MIB_SINGLE


def engine_floor(tensor_parallel: int) -> Resources:
    """The least a model server pod needs: a core for each GPU worker plus one for the API
    server, and the engine's host memory plus the shared memory it may fill."""
    return Resources(
        cpu_m=(tensor_parallel + 1) * 1000,
        memory_mib=ENGINE_HOST_MIB + shm_mib(tensor_parallel),
    )


def gpu_share(
    allocatable: Resources, gpus_per_node: int, tensor_parallel: int, daemonsets: int
) -> Resources:
    """The part of a node's allocatable that goes with `tensor_parallel` of its GPUs, once
    our GPU DaemonSets have theirs."""
    free = allocatable.minus(GPU_DAEMONSET_REQUEST.times(daemonsets))
    return Resources(
        cpu_m=free.cpu_m * tensor_parallel // gpus_per_node,
        memory_mib=free.memory_mib * tensor_parallel // gpus_per_node,
    )


def model_pod_resources(
    allocatable: Resources | None, gpus_per_node: int, tensor_parallel: int, daemonsets: int
) -> PodResources:
    """Requests are the engine's floor, so the cloud's own DaemonSets still fit beside it;
    limits are the pod's share of the node, so it may use what its GPUs came with. With no
    known node size (an on-prem pool that declares none) the limits are the floor: the pod
    then asks for nothing it has not been shown to fit."""
    floor = engine_floor(tensor_parallel)
    if allocatable is None:
        return PodResources(requests=floor, limits=floor)
    share = gpu_share(allocatable, gpus_per_node, tensor_parallel, daemonsets)
    return PodResources(requests=floor, limits=share)


def can_surge(pool_max_gpus: int, replicas_max: int, tensor_parallel: int) -> bool:
    """A surge pod needs GPUs beyond those of the most replicas the autoscaler may run;
    without them it waits Pending and the rollout never finishes."""
    return pool_max_gpus - replicas_max * tensor_parallel >= tensor_parallel


# A training worker's host side: a core for each GPU's data-loader and driver process plus
# one for the harness and the trainer's main process, and the engine's host memory (the
# same CUDA contexts, tokenizer and process overhead) plus /dev/shm, which data loaders and
# NCCL fill.
def training_shm_mib(gpus: int) -> int:
    return SHM_MIB_PER_GPU * gpus


def training_floor(gpus: int) -> Resources:
    return Resources(cpu_m=(gpus + 1) * 1000, memory_mib=ENGINE_HOST_MIB + training_shm_mib(gpus))


def training_pod_resources(
    allocatable: Resources | None, gpus_per_node: int, gpus: int, daemonsets: int
) -> PodResources:
    """Limits are the worker's share of the node (what its GPUs came with); requests the
    floor, never above that share, so as many workers as the node has GPUs for fit beside
    the cloud's own DaemonSets. With no known node size both are the floor."""
    floor = training_floor(gpus)
    if allocatable is None:
        return PodResources(requests=floor, limits=floor)
    share = gpu_share(allocatable, gpus_per_node, gpus, daemonsets)
    requests = Resources(min(floor.cpu_m, share.cpu_m), min(floor.memory_mib, share.memory_mib))
    return PodResources(requests=requests, limits=share)
