"""Turns recorded Kubernetes resources into the YAML objects the provider would apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.plan.runner import Recorded

# Resources of the kubernetes package that are not cluster objects.
_NOT_OBJECTS = ("pulumi:providers:", "kubernetes:helm.sh/", "kubernetes:yaml:")


def is_object(rec: Recorded) -> bool:
    return (
        rec.custom and rec.type.startswith("kubernetes:") and not rec.type.startswith(_NOT_OBJECTS)
    )


def to_object(rec: Recorded) -> dict[str, Any]:
    group_version, kind = rec.type.removeprefix("kubernetes:").rsplit(":", 1)
    api_version = group_version.removeprefix("core/")
    obj = {
        "apiVersion": rec.inputs.get("apiVersion", api_version),
        "kind": rec.inputs.get("kind", kind),
    }
    obj.update({k: v for k, v in rec.inputs.items() if k not in ("apiVersion", "kind")})
    return obj


def by_file(records: list[Recorded]) -> dict[str, dict[str, Any]]:
    """Every object under its file name, <kind>-<namespace>-<name>.yaml, in a stable order."""
    out = {}
    for rec in records:
        if not is_object(rec):
            continue
        obj = to_object(rec)
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "cluster"
        out[f"{obj['kind'].lower()}-{ns}-{meta.get('name', rec.name)}.yaml"] = obj
    return out


def write(objects: dict[str, dict[str, Any]], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, obj in objects.items():
        (out_dir / name).write_text(yaml.safe_dump(obj, sort_keys=False))
