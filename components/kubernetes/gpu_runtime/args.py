"""What a GpuRuntime is built from (components/kubernetes/resolve.py fills it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.kubernetes.facts import PoolScheduling
from components.naming import K8sLabeler
from components.scheduling import GpuNodeRuntime


@dataclass(frozen=True)
class GpuRuntimeArgs:
    # Its own namespace: the runtime needs host access the model namespace forbids.
    namespace: str
    labeler: K8sLabeler
    pools: dict[str, PoolScheduling]
    prometheus_namespace: str
    # Labels an existing Prometheus Operator selects ServiceMonitors by.
    monitoring_labels: dict[str, str] = field(default_factory=dict)
    runtime: GpuNodeRuntime = field(default_factory=GpuNodeRuntime)
    # The NVIDIA GPU Operator instead of the explicit DaemonSets.
    gpu_operator: bool = False
    # The provider renders manifests to a directory (charts then render with it).
    renders: bool = False
    # Whether a Prometheus on this cluster scrapes the DCGM exporter (not on a hybrid's cloud
    # cluster, whose training pools only need their GPUs schedulable).
    metrics: bool = True
    # The release installing the ServiceMonitor CRD, when this stack installs it.
    crds_ready: tuple[pulumi.Resource, ...] = ()
