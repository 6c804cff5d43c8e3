"""A kubeconfig whose user runs a credential plugin: the cluster's own short-lived tokens
(`aws eks get-token`, `gke-gcloud-auth-plugin`), never a static credential in state."""

from __future__ import annotations

import json
from typing import Any


def exec_kubeconfig(
    name: str | None, server: str | None, ca: str | None, exec_: dict[str, Any]
) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": name, "cluster": {"server": server, "certificate-authority-data": ca}}
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", **exec_}
                    },
                }
            ],
        }
    )
