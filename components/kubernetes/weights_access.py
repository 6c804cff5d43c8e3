"""WeightsAccess: the service account (and credential files) that lets model servers read
the artifact bucket (the init container that copies a model's weights from it is built in
components/kubernetes/model_server/weights.py).

The Kubernetes side of workload identity is the same everywhere: a service account with
the annotations the cloud asks for, and pods that run as it. What differs per cloud
arrives as ClusterFacts, so nothing here names a cloud.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.catalog import versions
from components.kubernetes.facts import WEIGHTS_READER, WorkloadIdentity

RCLONE_IMAGE = versions.image("rclone")
TOKEN_DIR = "/var/run/secrets/llm-platform/cloud-token"
FILES_DIR = "/etc/llm-platform/cloud"
TOKEN_TTL_S = 3600


@dataclass(frozen=True)
class WeightsAccessArgs:
    namespace: pulumi.Input[str]
    labels: dict[str, str]
    identity: WorkloadIdentity


class WeightsAccess(pulumi.ComponentResource):
    service_account: pulumi.Output[str]
    files_config_map: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: WeightsAccessArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:WeightsAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = args.labels
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=WEIGHTS_READER,
                namespace=args.namespace,
                labels=labels,
                annotations=args.identity.service_account_annotations or None,
            ),
            # Pods mount only the audience-scoped token they need, never the API token.
            automount_service_account_token=False,
            opts=child,
        )
        self.service_account = account.metadata.name
        self.files_config_map = None
        if args.identity.files:
            files = k8s.core.v1.ConfigMap(
                f"{name}-files",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"{WEIGHTS_READER}-cloud",
                    namespace=args.namespace,
                    labels=labels,
                ),
                data=args.identity.files,
                opts=child,
            )
            self.files_config_map = files.metadata.name
        self.register_outputs({"service_account": self.service_account})
