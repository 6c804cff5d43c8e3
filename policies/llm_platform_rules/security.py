"""Security rules: private and encrypted by default, restricted pods, pinned images."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from components import naming

from ._base import (
    annotation,
    config,
    containers,
    get,
    items,
    known,
    pod_spec,
    rule,
    string_list,
    where,
)

OPEN_CIDRS = {"0.0.0.0/0", "::/0", "*", "Internet"}
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
RUNS_AS_ROOT = naming.RUNS_AS_ROOT_ANNOTATION
PRIVILEGED = naming.PRIVILEGED_ANNOTATION
ALLOW_LOAD_BALANCER = naming.ALLOW_LOAD_BALANCER_ANNOTATION


def _buckets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    type_, p = args.resource_type, args.props
    if args.name in config(args, "exemptResources", []):
        return
    if type_ == S3_BUCKET and get(p, "acl") in PUBLIC_ACLS:
        report(
            f"{where(args)} has the public ACL {get(p, 'acl')}. Remove `acl`; grant "
            f"access with IAM (the artifact store's reader role) instead."
        )
    elif type_ == S3_PAB:
        off = [f for f in PAB_FLAGS if get(p, f) is not True]
        if off:
            report(f"{where(args)} leaves {', '.join(off)} off. Set all four to true.")
    elif type_ == S3_SSE:
        algos = [
            get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm")
            for r in items(get(p, "rules"))
        ]
        if not any(a in ("aws:kms", "aws:kms:dsse", "AES256") for a in algos):
            report(
                f"{where(args)} sets no default encryption. Add a rule with "
                f"sseAlgorithm aws:kms and a customer-managed key."
            )
    elif type_ == "gcp:storage/bucket:Bucket":
        if get(p, "publicAccessPrevention") != "enforced":
            report(
                f"{where(args)} does not enforce public access prevention. Set "
                f"publicAccessPrevention: enforced."
            )
        if get(p, "uniformBucketLevelAccess") is not True:
            report(
                f"{where(args)} allows per-object ACLs. Set uniformBucketLevelAccess: "
                f"true so only IAM grants access."
            )
    elif type_ == "azure-native:storage:StorageAccount":
        if get(p, "allowBlobPublicAccess") is not False:
            report(f"{where(args)} allows public blob access. Set allowBlobPublicAccess: false.")
        if get(p, "enableHttpsTrafficOnly") is False or get(p, "minimumTlsVersion") in (
            "TLS1_0",
            "TLS1_1",
        ):
            report(
                f"{where(args)} accepts plain HTTP or old TLS. Set "
                f"enableHttpsTrafficOnly: true and minimumTlsVersion: TLS1_2."
            )
        if get(p, "encryption", "requireInfrastructureEncryption") is False:
            report(f"{where(args)} turns infrastructure encryption off. Remove the override.")
    elif type_ == "azure-native:storage:BlobContainer" and get(p, "publicAccess") not in (
        None,
        "None",
    ):
        report(
            f"{where(args)} is readable anonymously (publicAccess "
            f"{get(p, 'publicAccess')}). Set publicAccess: None."
        )


def _linked(guard: Any, bucket: Any) -> bool:
    """A public-access block or an encryption config guards a bucket when its `bucket`
    input was computed from the bucket (a property dependency) or names it."""
    deps = guard.property_dependencies.get("bucket") or []
    if any(d.urn == bucket.urn for d in deps):
        return True
    value = known(guard.props).get("bucket")
    return value is not None and value == known(bucket.props).get("bucket")


def _s3_guards(args: StackValidationArgs, report: ReportViolation) -> None:
    by_type: dict[str, list[Any]] = {}
    for r in args.resources:
        by_type.setdefault(r.resource_type, []).append(r)
    exempt = config(args, "exemptBuckets", [])
    for bucket in by_type.get(S3_BUCKET, []):
        if bucket.name in exempt:
            continue
        for guard, what in ((S3_PAB, "public access block"), (S3_SSE, "default encryption")):
            if not any(_linked(g, bucket) for g in by_type.get(guard, [])):
                report(
                    f"S3 bucket '{bucket.name}' has no {what} ({guard.split(':')[-1]}). "
                    f"Create the bucket with components.aws.artifacts.ArtifactBucket, or "
                    f"add the {guard.split(':')[-1]} for it.",
                    bucket.urn,
                )


def _endpoint(args: ResourceValidationArgs, report: ReportViolation) -> None:
    type_, p = args.resource_type, args.props
    forbidden = set(config(args, "openCidrs", sorted(OPEN_CIDRS)))

    def _open(cidrs: Any) -> bool:
        return any(str(c) in forbidden for c in items(cidrs))

    if type_ == "aws:eks/cluster:Cluster":
        vpc = get(p, "vpcConfig") or {}
        public = get(vpc, "endpointPublicAccess")
        cidrs = get(vpc, "publicAccessCidrs")
        # EKS's defaults: a public endpoint open to 0.0.0.0/0.
        if public is not False and (not items(cidrs) or _open(cidrs)):
            report(
                f"{where(args)} has a public API endpoint open to the internet. Keep "
                f"aws.public_endpoint_cidrs empty (private endpoint) or list the CIDRs "
                f"that may reach it."
            )
    elif type_ == "gcp:container/cluster:Cluster":
        private = get(p, "privateClusterConfig", "enablePrivateEndpoint") is True
        cidrs = [
            get(b, "cidrBlock")
            for b in items(get(p, "masterAuthorizedNetworksConfig", "cidrBlocks"))
        ]
        allowlisted = get(p, "masterAuthorizedNetworksConfig") is not None and not _open(cidrs)
        if not (private or (allowlisted and cidrs)):
            report(
                f"{where(args)} has a public control-plane endpoint without authorized "
                f"networks. Enable the private endpoint or list gcp.authorized_networks."
            )
    elif type_ == "azure-native:containerservice:ManagedCluster":
        access = get(p, "apiServerAccessProfile") or {}
        ranges = get(access, "authorizedIPRanges")
        if get(access, "enablePrivateCluster") is not True and (not items(ranges) or _open(ranges)):
            report(
                f"{where(args)} has a public API server open to the internet. Enable "
                f"the private cluster or set authorizedIPRanges."
            )


def _secrets_encryption(args: ResourceValidationArgs, report: ReportViolation) -> None:
    type_, p = args.resource_type, args.props
    if args.name in config(args, "exemptClusters", []):
        return
    if type_ == "aws:eks/cluster:Cluster":
        enc = get(p, "encryptionConfig") or {}
        if "secrets" not in items(get(enc, "resources")) or not get(enc, "provider", "keyArn"):
            report(
                f"{where(args)} does not envelope-encrypt Secrets with a KMS key. Set "
                f"encryptionConfig with resources [secrets] and a customer-managed key."
            )
    elif type_ == "gcp:container/cluster:Cluster":
        if get(p, "databaseEncryption", "state") != "ENCRYPTED":
            report(
                f"{where(args)} does not encrypt Secrets with a Cloud KMS key. Set "
                f"databaseEncryption {{state: ENCRYPTED, keyName: <key>}}."
            )
    elif (
        type_ == "azure-native:containerservice:ManagedCluster"
        and get(p, "securityProfile", "azureKeyVaultKms", "enabled") is not True
    ):
        report(
            f"{where(args)} does not encrypt Secrets with a Key Vault key. Enable "
            f"securityProfile.azureKeyVaultKms."
        )


def _imdsv2(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/instance:Instance",
    ):
        return
    meta = get(args.props, "metadataOptions") or {}
    if get(meta, "httpEndpoint") == "disabled":
        return
    if get(meta, "httpTokens") != "required":
        report(
            f"{where(args)} allows IMDSv1, whose credentials a server-side request "
            f"forgery can read. Set metadataOptions.httpTokens: required."
        )
    hops = get(meta, "httpPutResponseHopLimit")
    limit = int(config(args, "maxHopLimit", 1))
    if isinstance(hops, int | float) and hops > limit:
        report(
            f"{where(args)} lets pods reach the node's instance metadata (hop limit "
            f"{hops:g} > {limit}). Set httpPutResponseHopLimit: {limit}; pods get AWS "
            f"credentials from EKS Pod Identity."
        )


def _restricted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    pod = pod_spec(args.resource_type, args.props)
    namespace = get(args.props, "metadata", "namespace")
    if pod is None or namespace in config(args, "exemptNamespaces", []):
        return
    pod_sc = get(pod, "securityContext") or {}
    root_ok = annotation(args.props, RUNS_AS_ROOT) is not None
    privileged_ok = annotation(args.props, PRIVILEGED) is not None
    for c in containers(pod):
        sc = get(c, "securityContext") or {}
        name = get(c, "name")
        problems = []
        non_root = get(sc, "runAsNonRoot")
        if non_root is None:
            non_root = get(pod_sc, "runAsNonRoot")
        user = (
            get(sc, "runAsUser") if get(sc, "runAsUser") is not None else get(pod_sc, "runAsUser")
        )
        if not root_ok and (non_root is not True or user == 0):
            problems.append("runAsNonRoot: true")
        if not privileged_ok:
            if get(sc, "privileged") is True:
                problems.append("privileged: false")
            if get(sc, "allowPrivilegeEscalation") is not False:
                problems.append("allowPrivilegeEscalation: false")
            if "ALL" not in items(get(sc, "capabilities", "drop")):
                problems.append("capabilities.drop: [ALL]")
        seccomp = get(sc, "seccompProfile", "type") or get(pod_sc, "seccompProfile", "type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append("seccompProfile.type: RuntimeDefault")
        if problems:
            report(
                f"{where(args)} container '{name}' is not restricted; set "
                f"{', '.join(problems)} (components.kubernetes.pods.container_security and "
                f"pod_security). A workload that must run as root states why in the annotation "
                f"{RUNS_AS_ROOT}, one that must be privileged in {PRIVILEGED}."
            )


def image_problem(image: str, require_digest: bool) -> str | None:
    if "@sha256:" in image:
        return None
    if require_digest:
        return "is not pinned by digest (@sha256:...)"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag, so it means latest"
    if last.rsplit(":", 1)[1] == "latest":
        return "uses the moving tag latest"
    return None


def _pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    pod = pod_spec(args.resource_type, args.props)
    if pod is None:
        return
    digest = bool(config(args, "requireDigest", False))
    for c in containers(pod):
        image = get(c, "image")
        problem = image_problem(image, digest) if isinstance(image, str) else "has no image"
        if problem:
            report(
                f"{where(args)} container '{get(c, 'name')}' image {image} {problem}. "
                f"Pin a release tag (or @sha256 digest) in the spec's engine.image."
            )


def _load_balancer(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "kubernetes:core/v1:Service":
        return
    if get(args.props, "spec", "type") != "LoadBalancer":
        return
    meta = get(args.props, "metadata") or {}
    ident = f"{get(meta, 'namespace') or 'default'}/{get(meta, 'name') or args.name}"
    if annotation(args.props, ALLOW_LOAD_BALANCER) or ident in config(args, "allowedServices", []):
        return
    report(
        f"{where(args)} ({ident}) is a LoadBalancer, which opens a cloud load balancer "
        f"(often public) and costs money. Use ClusterIP behind the gateway, or allow it "
        f"explicitly with the annotation {ALLOW_LOAD_BALANCER}: "
        f'"<reason>" or the policy config allowedServices.'
    )


def _schema_bool(description: str) -> dict[str, Any]:
    return {"type": "boolean", "default": False, "description": description}


POLICIES = [
    rule(
        "private-encrypted-buckets",
        "Buckets are private and encrypted.",
        _buckets,
        severity=Severity.CRITICAL,
        schema={"exemptResources": string_list("resource names allowed to be public", [])},
        remediation="Block public access and encrypt by default; grant access with IAM.",
    ),
    rule(
        "s3-bucket-guards",
        "Every S3 bucket has a public access block and default encryption.",
        _s3_guards,
        stack=True,
        severity=Severity.CRITICAL,
        schema={"exemptBuckets": string_list("bucket resource names not checked", [])},
        remediation="Add a BucketPublicAccessBlock and a "
        "BucketServerSideEncryptionConfiguration for each bucket.",
    ),
    rule(
        "private-cluster-endpoint",
        "Cluster API endpoints are private or limited to allowlisted networks.",
        _endpoint,
        severity=Severity.CRITICAL,
        schema={"openCidrs": string_list("CIDRs that count as open", sorted(OPEN_CIDRS))},
        remediation="Use the private endpoint, or list the CIDRs allowed to reach it.",
    ),
    rule(
        "cluster-secrets-encryption",
        "Kubernetes Secrets are envelope-encrypted with a customer-managed key.",
        _secrets_encryption,
        severity=Severity.HIGH,
        schema={"exemptClusters": string_list("cluster resource names not checked", [])},
        remediation="Turn on application-layer secrets encryption with a KMS key.",
    ),
    rule(
        "imdsv2-required",
        "Launch templates and instances require IMDSv2 and keep pods off node metadata.",
        _imdsv2,
        severity=Severity.HIGH,
        schema={"maxHopLimit": {"type": "integer", "minimum": 1, "maximum": 64, "default": 1}},
        remediation="Set metadataOptions.httpTokens: required and a hop limit of 1.",
    ),
    rule(
        "restricted-pods",
        "Pods meet the Kubernetes restricted profile: non-root, no privilege escalation, "
        "capabilities dropped, seccomp set.",
        _restricted,
        severity=Severity.HIGH,
        schema={"exemptNamespaces": string_list("namespaces not checked", [])},
        remediation="Use components.kubernetes.pods.pod_security and container_security for "
        "the pod and its containers.",
    ),
    rule(
        "pinned-images",
        "Container images are pinned to a release tag or digest, never latest.",
        _pinned,
        severity=Severity.MEDIUM,
        schema={"requireDigest": _schema_bool("require @sha256 digests, not only tags")},
        remediation="Pin every image to a release tag or a digest.",
    ),
    rule(
        "no-public-load-balancer",
        "No Service of type LoadBalancer without an explicit allow.",
        _load_balancer,
        severity=Severity.HIGH,
        schema={"allowedServices": string_list("namespace/name of allowed LoadBalancers", [])},
        remediation="Use ClusterIP, or annotate llm-platform.dev/allow-load-balancer with "
        "the reason.",
    ),
]
