"""The security rules' checks of GCP resources (policies/llm_platform_rules/security.py
runs them through the cloud registry). Each returns what is wrong, one sentence each, to
follow the resource's name. Pure: no Pulumi import."""

from __future__ import annotations

from collections.abc import Collection

from components.clouds import Props
from components.props import get, items

GKE_CLUSTER = "gcp:container/cluster:Cluster"


def _bucket(p: Props) -> list[str]:
    problems = []
    if get(p, "publicAccessPrevention") != "enforced":
        problems.append(
            "does not enforce public access prevention. Set publicAccessPrevention: enforced."
        )
    if get(p, "uniformBucketLevelAccess") is not True:
        problems.append(
            "allows per-object ACLs. Set uniformBucketLevelAccess: "
            "true so only IAM grants access."
        )
    return problems


def _endpoint(p: Props, open_cidrs: Collection[str]) -> list[str]:
    private = get(p, "privateClusterConfig", "enablePrivateEndpoint") is True
    cidrs = [
        get(b, "cidrBlock") for b in items(get(p, "masterAuthorizedNetworksConfig", "cidrBlocks"))
    ]
    opened = any(str(c) in open_cidrs for c in cidrs)
    allowlisted = get(p, "masterAuthorizedNetworksConfig") is not None and not opened
    if not (private or (allowlisted and cidrs)):
        return [
            "has a public control-plane endpoint without authorized "
            "networks. Enable the private endpoint or list gcp.authorized_networks."
        ]
    return []


def _secrets_encryption(p: Props) -> list[str]:
    if get(p, "databaseEncryption", "state") != "ENCRYPTED":
        return [
            "does not encrypt Secrets with a Cloud KMS key. Set "
            "databaseEncryption {state: ENCRYPTED, keyName: <key>}."
        ]
    return []


STORAGE = {"gcp:storage/bucket:Bucket": _bucket}
ENDPOINT = {GKE_CLUSTER: _endpoint}
SECRETS_ENCRYPTION = {GKE_CLUSTER: _secrets_encryption}
