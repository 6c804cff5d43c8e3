"""Checks of a GCP environment that span the spec or need the catalog; the shared checks
(components/spec/checks.py) run them through the cloud registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components import catalog
from components.gcp import names
from components.spec.errors import config_path, key_text

if TYPE_CHECKING:
    from components.spec.types import EnvironmentSpec


def zone_problems(spec: EnvironmentSpec) -> list[str]:
    """Every GKE node zone must lie in the region and offer each machine type the node
    pools use there (every pool spans all of gcp.zones). The GPU pools are GKE's only when
    the environment runs on GCP; on another cloud the block itself is refused."""
    cfg = spec.gcp
    if cfg is None:
        return []
    problems = []
    pools = spec.cloud_pools() if spec.cloud == "gcp" else []
    types = {cfg.system_machine_type: "the system pool"} | {
        p.instance_type: f"pool '{p.name}'" for p in pools if p.instance_type
    }
    for i, zone in enumerate(cfg.node_zones):
        where = config_path(("gcp", "zones", i) if cfg.zones else ("gcp", "region"))
        if not zone.startswith(f"{cfg.region}-"):
            problems.append(f"{where}: zone {key_text(zone)} is not in region {cfg.region}")
            continue
        for machine, user in types.items():
            offered = catalog.zones_offering(machine, cfg.region)
            if offered is None:
                problems.append(
                    f"{where}: components/catalog/zones.yaml does not say which zones of "
                    f"{cfg.region} offer {machine} ({user}); add a row with its source"
                )
            elif zone not in offered:
                problems.append(
                    f"{where}: {key_text(zone)} does not offer {machine} ({user}); zones of "
                    f"{cfg.region} that do: {', '.join(offered)}"
                )
    return problems


def name_problems(spec: EnvironmentSpec) -> list[str]:
    """Names GCP refuses however they are fitted: label values on every resource, and the
    artifacts bucket's name."""
    problems = []
    for key, value in spec.tags.model_dump().items():
        if not names.LABEL_VALUE.accepts(value.lower()):
            problems.append(
                f"{config_path(('tags', key))}: '{value}' is a label on every GCP resource, "
                "and GCP label values allow only letters (lowercased), digits, '_' and "
                "'-' (at most 63)"
            )
    if "google" in spec.environment:
        problems.append(
            f"{config_path(('environment',))}: '{spec.environment}' contains 'google', which "
            "Cloud Storage refuses in the artifacts bucket name (3-63 characters, no "
            "'google'); choose another environment name"
        )
    return problems
