"""GCP in the cloud registry (components/clouds.py). Pure: no provider SDK import."""

from __future__ import annotations

from components.clouds import ApiEndpoint, Cloud
from components.gcp import checks, mocks, policy_types, prices, scanner
from components.gcp.spec import Gcp
from components.scheduling import GpuNodeRuntime

# GKE: https://cloud.google.com/kubernetes-engine/docs/how-to/gpus (GKE installs the device
# plugin); the DCGM exporter setup for GKE follows
# https://cloud.google.com/stackdriver/docs/managed-prometheus/exporters/nvidia-dcgm
# (GoogleCloudPlatform/prometheus-engine examples/nvidia-dcgm/exporter.yaml).
GKE_RUNTIME = GpuNodeRuntime(
    device_plugin=False, driver_host_path="/home/kubernetes/bin/nvidia", gpu_id_type="device-name"
)
_RANGES = ("subnet_cidr", "pods_cidr", "services_cidr", "control_plane_cidr")

CLOUD = Cloud(
    name="gcp",
    label="GCP",
    sdk="pulumi_gcp",
    type_prefix="gcp:",
    foundation="components.gcp.foundation:GcpFoundation",
    block=Gcp,
    cidrs=lambda block: [(name, getattr(block, name)) for name in _RANGES],
    block_problems=checks.zone_problems,
    name_problems=checks.name_problems,
    gpu_driver_by="GKE",
    gpu_node_runtime=GKE_RUNTIME,
    jwks_upload=True,
    api_endpoint=ApiEndpoint(cluster="GKE", public_cidrs_field="authorized_networks"),
    prices=prices.PRICES,
    computed=mocks.computed,
    invoke_results=mocks.INVOKE_RESULTS,
    policy=policy_types.POLICY_TYPES,
    scanner_skips=scanner.SKIPS,
)
