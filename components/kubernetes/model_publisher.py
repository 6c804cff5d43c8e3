"""ModelPublisher: what every sync Job (components/kubernetes/model_server/sync.py) and the
verify init containers of a namespace share, made once: the MODEL_PUBLISHER service account
(with its cloud identity's annotations and credential files), the signing public key's
ConfigMap, the signing private key's Secret, the NetworkPolicy that admits nothing to a sync
Job's pod and, on premises, the store's own claim.

In render mode the Secret is not made: the provider writes every input to a file in plain
text, so the Secret SIGNING_KEY_SECRET is made beforehand with kubectl and only referenced
by name (as the gateway's Secrets are).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.facts import (
    MODEL_PUBLISHER,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_CONFIG_MAP,
    PUBLIC_KEY_FILE,
    SIGNING_KEY_SECRET,
    WorkloadIdentity,
)
from components.kubernetes.model_server.sync import network_policy_spec, store_claim_spec


@dataclass(frozen=True)
class StoreClaim:
    """An on-prem store's ReadWriteMany claim (spec onprem.artifact_claim)."""

    name: str
    size_gib: int
    storage_class: str | None


@dataclass(frozen=True)
class ModelPublisherArgs:
    namespace: pulumi.Input[str]
    labels: dict[str, str]
    # The publisher's cloud identity; None where the store needs none (an on-prem claim).
    identity: WorkloadIdentity | None
    # PEM of the signing public key (not secret); None: nothing is signed or verified.
    public_key: str | None = None
    # The private key, from the Pulumi secret lifecycle.signing.private_key_secret; None in
    # render mode (the Secret is made with kubectl) or without signing.
    private_key: pulumi.Input[str] | None = None
    claim: StoreClaim | None = None


class ModelPublisher(pulumi.ComponentResource):
    # What a sync Job (and so the server after it) needs before it starts.
    ready: list[pulumi.Resource]
    files_config_map: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: ModelPublisherArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:ModelPublisher", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        identity = args.identity
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=self._meta(
                MODEL_PUBLISHER,
                annotations=(identity.service_account_annotations or None) if identity else None,
            ),
            # The Job mounts only the audience-scoped token it needs, never the API token.
            automount_service_account_token=False,
            opts=child,
        )
        self.ready = [account]
        self.files_config_map = None
        if identity is not None and identity.files:
            files = k8s.core.v1.ConfigMap(
                f"{name}-files",
                metadata=self._meta(f"{MODEL_PUBLISHER}-cloud"),
                data=identity.files,
                opts=child,
            )
            self.files_config_map = files.metadata.name
            self.ready.append(files)
        self._signing(name)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-sync-netpol",
            metadata=self._meta(f"{MODEL_PUBLISHER}-sync"),
            spec=network_policy_spec(),
            opts=child,
        )
        if args.claim is not None:
            self.ready.append(
                k8s.core.v1.PersistentVolumeClaim(
                    f"{name}-store",
                    metadata=self._meta(args.claim.name),
                    spec=store_claim_spec(args.claim.size_gib, args.claim.storage_class),
                    # The claim is the store: every revision synced lives only here.
                    opts=pulumi.ResourceOptions(parent=self, protect=True),
                )
            )
        self.register_outputs({"service_account": account.metadata.name})

    def _meta(self, obj_name: str, **extra) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=obj_name, namespace=self._args.namespace, labels=self._args.labels, **extra
        )

    def _signing(self, name: str) -> None:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        if args.public_key is not None:
            self.ready.append(
                k8s.core.v1.ConfigMap(
                    f"{name}-signing-pub",
                    metadata=self._meta(PUBLIC_KEY_CONFIG_MAP),
                    data={PUBLIC_KEY_FILE: args.public_key},
                    opts=child,
                )
            )
        if args.private_key is not None:
            self.ready.append(
                k8s.core.v1.Secret(
                    f"{name}-signing-key",
                    metadata=self._meta(SIGNING_KEY_SECRET),
                    type="Opaque",
                    string_data={PRIVATE_KEY_FILE: args.private_key},
                    opts=child,
                )
            )
