"""The security rules' checks of AWS resources (policies/llm_platform_rules/security.py
runs them through the cloud registry). Each returns what is wrong, one sentence each, to
follow the resource's name. Pure: no Pulumi import."""

from __future__ import annotations

from collections.abc import Collection

from components.clouds import BucketGuards, Props
from components.props import get, items

PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
EKS_CLUSTER = "aws:eks/cluster:Cluster"


def _bucket(p: Props) -> list[str]:
    if get(p, "acl") in PUBLIC_ACLS:
        return [
            f"has the public ACL {get(p, 'acl')}. Remove `acl`; grant "
            f"access with IAM (the artifact store's reader role) instead."
        ]
    return []


def _public_access_block(p: Props) -> list[str]:
    off = [f for f in PAB_FLAGS if get(p, f) is not True]
    return [f"leaves {', '.join(off)} off. Set all four to true."] if off else []


def _encryption(p: Props) -> list[str]:
    algos = [
        get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm") for r in items(get(p, "rules"))
    ]
    if not any(a in ("aws:kms", "aws:kms:dsse", "AES256") for a in algos):
        return [
            "sets no default encryption. Add a rule with "
            "sseAlgorithm aws:kms and a customer-managed key."
        ]
    return []


def _endpoint(p: Props, open_cidrs: Collection[str]) -> list[str]:
    vpc = get(p, "vpcConfig") or {}
    cidrs = get(vpc, "publicAccessCidrs")
    # EKS's defaults: a public endpoint open to 0.0.0.0/0.
    opened = not items(cidrs) or any(str(c) in open_cidrs for c in items(cidrs))
    if get(vpc, "endpointPublicAccess") is not False and opened:
        return [
            "has a public API endpoint open to the internet. Keep "
            "aws.public_endpoint_cidrs empty (private endpoint) or list the CIDRs "
            "that may reach it."
        ]
    return []


def _secrets_encryption(p: Props) -> list[str]:
    enc = get(p, "encryptionConfig") or {}
    if "secrets" not in items(get(enc, "resources")) or not get(enc, "provider", "keyArn"):
        return [
            "does not envelope-encrypt Secrets with a KMS key. Set "
            "encryptionConfig with resources [secrets] and a customer-managed key."
        ]
    return []


def _instance_metadata(p: Props, max_hops: int) -> list[str]:
    meta = get(p, "metadataOptions") or {}
    if get(meta, "httpEndpoint") == "disabled":
        return []
    problems = []
    if get(meta, "httpTokens") != "required":
        problems.append(
            "allows IMDSv1, whose credentials a server-side request "
            "forgery can read. Set metadataOptions.httpTokens: required."
        )
    hops = get(meta, "httpPutResponseHopLimit")
    if isinstance(hops, int | float) and hops > max_hops:
        problems.append(
            f"lets pods reach the node's instance metadata (hop limit "
            f"{hops:g} > {max_hops}). Set httpPutResponseHopLimit: {max_hops}; pods get AWS "
            f"credentials from EKS Pod Identity."
        )
    return problems


STORAGE = {S3_BUCKET: _bucket, S3_PAB: _public_access_block, S3_SSE: _encryption}
ENDPOINT = {EKS_CLUSTER: _endpoint}
SECRETS_ENCRYPTION = {EKS_CLUSTER: _secrets_encryption}
INSTANCE_METADATA = {
    "aws:ec2/launchTemplate:LaunchTemplate": _instance_metadata,
    "aws:ec2/instance:Instance": _instance_metadata,
}
# An S3 bucket's public access block and default encryption are resources of their own.
BUCKET_GUARDS = BucketGuards(
    bucket=S3_BUCKET,
    label="S3 bucket",
    builder="components.aws.artifacts.ArtifactBucket",
    guards=((S3_PAB, "public access block"), (S3_SSE, "default encryption")),
)
