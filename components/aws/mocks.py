"""What the offline plan's mocks return for AWS resources in place of what AWS computes.
Pure: no Pulumi import."""

from __future__ import annotations

from typing import Any

from components.clouds import OFFLINE_ACCOUNT


def computed(type_: str, name: str, _inputs: dict[str, Any]) -> dict[str, Any]:
    """Every AWS resource has an ARN, which the program wires into policies."""
    service = type_.split(":")[1].split("/")[0]
    return {"arn": f"arn:aws:{service}::{OFFLINE_ACCOUNT}:{name}"}
