"""Typed access to the catalog data files (models, GPUs, cloud instances, Kubernetes
versions, zones).

The numbers live in YAML next to this module so that every figure carries its source and
the date it was recorded; code never holds a price or a GPU fact of its own.
"""

from __future__ import annotations

import calendar
import difflib
import os
import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from components import clouds
from components.catalog import yaml_file

_HERE = Path(__file__).parent


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    source: str = Field(min_length=8)
    as_of: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


class ModelInfo(_Row):
    params_b: float = Field(gt=0)
    layers: int = Field(gt=0)
    attention_heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    max_position_embeddings: int = Field(gt=0)
    sliding_window: int | None = None
    tie_word_embeddings: bool = False
    num_experts: int = 1
    experts_per_token: int = 1
    native_quantization: Literal["fp8", "awq", "gptq"] | None = None


class GpuInfo(_Row):
    vendor: Literal["nvidia", "amd"]
    memory_gib: float = Field(gt=0)
    bandwidth_gbps: float = Field(gt=0)
    bf16_tflops: float = Field(gt=0)
    fp8_tflops: float | None = None


Cloud = Literal[clouds.NAMES]  # type: ignore[valid-type]


class InstanceInfo(_Row):
    cloud: Cloud
    gpu: str | None = None
    gpu_count: int = Field(ge=0)
    accelerator: str | None = None
    vcpu: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    region: str
    on_demand_usd_per_hour: float = Field(gt=0)
    spot_usd_per_hour: float | None = Field(default=None, gt=0)


class ServiceInfo(_Row):
    cloud: Cloud
    unit: str
    usd: float = Field(gt=0)
    region: str
    note: str | None = None


def _load(name: str, key: str, row: type[_Row]) -> dict[str, _Row]:
    data = yaml_file.read(_HERE / name)
    return {r["id"]: row.model_validate(r) for r in data[key]}


@cache
def models() -> dict[str, ModelInfo]:
    return _load("models.yaml", "models", ModelInfo)  # type: ignore[return-value]


@cache
def gpus() -> dict[str, GpuInfo]:
    return _load("gpus.yaml", "gpus", GpuInfo)  # type: ignore[return-value]


@cache
def instances() -> dict[str, InstanceInfo]:
    return _load("instances.yaml", "instances", InstanceInfo)  # type: ignore[return-value]


@cache
def services() -> dict[str, ServiceInfo]:
    return _load("services.yaml", "services", ServiceInfo)  # type: ignore[return-value]


def suggest(name: str, known: list[str] | dict[str, object]) -> str:
    """A ' (did you mean ...?)' hint, or '' when nothing is close."""
    keys = list(known)
    lowered = {k.lower(): k for k in keys}
    # A truncated id ("Llama-3.1-8B" for "Llama-3.1-8B-Instruct") is the commonest slip.
    prefixed = sorted(k for k in lowered if k.startswith(name.lower()))
    if name and prefixed:
        return f" (did you mean '{lowered[prefixed[0]]}'?)"
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


Platform = Literal["eks", "gke", "aks"]
PLAN_DATE_ENV = "LLM_PLATFORM_PLAN_DATE"
_MONTH = re.compile(r"^\d{4}-\d{2}$")


class KubernetesVersionInfo(_Row):
    platform: Platform
    version: str = Field(pattern=r"^1\.[0-9]{2}$")
    released: str = Field(pattern=r"^\d{4}-\d{2}(-\d{2})?$", description="a month or a day")
    end_of_standard: date
    end_of_extended: date | None
    cluster_autoscaler_chart: str | None = None
    cluster_autoscaler_image: str | None = None

    @property
    def available_from(self) -> date:
        """The day the version can surely be created: a month-only release counts from the
        month's last day."""
        if _MONTH.match(self.released):
            year, month = map(int, self.released.split("-"))
            return date(year, month, calendar.monthrange(year, month)[1])
        return date.fromisoformat(self.released)


class ZoneOffer(_Row):
    instance: str
    region: str
    zones: list[str] = Field(min_length=1)


@cache
def kubernetes_versions() -> dict[str, KubernetesVersionInfo]:
    return _load("kubernetes_versions.yaml", "versions", KubernetesVersionInfo)  # type: ignore[return-value]


@cache
def default_kubernetes_version(platform: Platform) -> str:
    data = yaml_file.read(_HERE / "kubernetes_versions.yaml")
    return data["defaults"][platform]


def kubernetes_version(platform: Platform, version: str) -> KubernetesVersionInfo | None:
    return kubernetes_versions().get(f"{platform}-{version}")


@cache
def zone_offers() -> dict[str, ZoneOffer]:
    return _load("zones.yaml", "zones", ZoneOffer)  # type: ignore[return-value]


def zones_offering(instance: str, region: str) -> list[str] | None:
    """The zones of `region` that offer `instance`, or None when the catalog does not say."""
    offer = zone_offers().get(f"{instance}@{region}")
    return None if offer is None else offer.zones


def plan_date() -> date:
    """The day support windows are judged on: LLM_PLATFORM_PLAN_DATE (YYYY-MM-DD), so a
    test or a review can plan as of another day, or else today."""
    raw = os.environ.get(PLAN_DATE_ENV)
    if not raw:
        return date.today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"{PLAN_DATE_ENV}: must be a date such as 2026-12-01 (got {raw!r})"
        ) from None


class CpuTier(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    up_to_cores: float | None
    fraction: float = Field(ge=0, le=1)


class CpuStep(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    cores: int = Field(gt=0)
    millicores: int = Field(ge=0)


class MemoryTier(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    up_to_gib: float | None
    fraction: float = Field(ge=0, le=1)


class NodeReserve(_Row):
    """How a cloud's kubelet computes a node's allocatable (see node_reserve.yaml)."""

    cpu_tiers: list[CpuTier] = Field(default_factory=list)
    cpu_table: list[CpuStep] = Field(default_factory=list)
    memory_tiers: list[MemoryTier] = Field(default_factory=list)
    memory_per_pod_mib: int = 0
    memory_base_mib: int = 0
    memory_cap_fraction: float | None = None
    max_pods: dict[str, int] = Field(default_factory=dict)
    default_max_pods: int | None = None
    eviction_hard_mib: int = Field(ge=0)
    vm_memory_overhead_fraction: float = Field(ge=0, lt=1)


@cache
def node_reserves() -> dict[str, NodeReserve]:
    return _load("node_reserve.yaml", "clouds", NodeReserve)  # type: ignore[return-value]


class SpotNotice(_Row):
    """How long a cloud warns before it reclaims a spot node, and how that notice reaches a
    training pod as SIGTERM (spot_notice.yaml)."""

    notice_s: int = Field(gt=0)
    # The part of the notice the pod's grace period may use: the rest is the notice's path to
    # the pod (the handler's poll, the drain's eviction) and the node's own shutdown.
    pod_grace_s: int = Field(gt=0)
    path: str = Field(min_length=8)


@cache
def spot_notices() -> dict[str, SpotNotice]:
    return _load("spot_notice.yaml", "clouds", SpotNotice)  # type: ignore[return-value]
