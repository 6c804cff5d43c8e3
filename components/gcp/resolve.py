"""The one place the gcp package reads the validated spec: it turns the Environment into the
narrow Args its components take."""

from __future__ import annotations

import pulumi

from components.kubernetes.facts import FoundationArgs
from components.spec import Environment


def foundation_args(env: Environment, secrets: dict[str, pulumi.Input[str]]) -> FoundationArgs:
    return FoundationArgs(env=env, secrets=secrets)
