"""Checks of an Azure environment that span the spec; the shared checks
(components/spec/checks.py) run them through the cloud registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.azure import names
from components.spec.errors import config_path

if TYPE_CHECKING:
    from components.spec.types import EnvironmentSpec


def name_problems(spec: EnvironmentSpec) -> list[str]:
    """A GPU pool may not take the name of the AKS cluster's own system pool."""
    return [
        f"{config_path(('gpu_pools', i, 'name'))}: '{pool.name}' is the name of the "
        "AKS cluster's own system pool, and AKS pool names are unique in a cluster "
        "(1-12 lowercase letters and digits); choose another name"
        for i, pool in enumerate(spec.gpu_pools)
        if pool in spec.cloud_pools() and pool.name == names.SYSTEM_POOL
    ]
