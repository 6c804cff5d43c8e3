"""The one place the on-prem package reads the validated spec: it turns the Environment into
the narrow Args of the on-prem cluster."""

from __future__ import annotations

from components.onprem.cluster import OnPremClusterArgs
from components.spec import Environment


def cluster_args(env: Environment) -> OnPremClusterArgs:
    return OnPremClusterArgs(spec=env.spec)
