"""Security rules: private and encrypted by default, restricted pods, pinned images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from components import clouds, conventions

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
RUNS_AS_ROOT = conventions.RUNS_AS_ROOT_ANNOTATION
PRIVILEGED = conventions.PRIVILEGED_ANNOTATION
ALLOW_LOAD_BALANCER = conventions.ALLOW_LOAD_BALANCER_ANNOTATION


def _cloud_check(args: ResourceValidationArgs, table: str) -> Callable[..., list[str]] | None:
    """The check in the policy type table `table` of the resource's cloud, if any
    (components/<cloud>/policy_checks.py)."""
    cloud = clouds.of_type(args.resource_type)
    return getattr(cloud.policy, table).get(args.resource_type) if cloud is not None else None


def _report_all(args: ResourceValidationArgs, report: ReportViolation, found: list[str]) -> None:
    for problem in found:
        report(f"{where(args)} {problem}")


def _buckets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    check = _cloud_check(args, "storage")
    if check is not None and args.name not in config(args, "exemptResources", []):
        _report_all(args, report, check(args.props))


def _linked(guard: Any, bucket: Any) -> bool:
    """A guard (an S3 public-access block or encryption config) guards a bucket when its
    `bucket` input was computed from the bucket (a property dependency) or names it."""
    deps = guard.property_dependencies.get("bucket") or []
    if any(d.urn == bucket.urn for d in deps):
        return True
    value = known(guard.props).get("bucket")
    return value is not None and value == known(bucket.props).get("bucket")


def _bucket_guards(args: StackValidationArgs, report: ReportViolation) -> None:
    by_type: dict[str, list[Any]] = {}
    for r in args.resources:
        by_type.setdefault(r.resource_type, []).append(r)
    exempt = config(args, "exemptBuckets", [])
    for spec in (c.policy.bucket_guards for c in clouds.clouds()):
        if spec is None:
            continue
        for bucket in by_type.get(spec.bucket, []):
            if bucket.name in exempt:
                continue
            for guard, what in spec.guards:
                if not any(_linked(g, bucket) for g in by_type.get(guard, [])):
                    kind = guard.split(":")[-1]
                    report(
                        f"{spec.label} '{bucket.name}' has no {what} ({kind}). "
                        f"Create the bucket with {spec.builder}, or add the {kind} for it.",
                        bucket.urn,
                    )


def _endpoint(args: ResourceValidationArgs, report: ReportViolation) -> None:
    check = _cloud_check(args, "endpoint")
    if check is not None:
        forbidden = set(config(args, "openCidrs", sorted(OPEN_CIDRS)))
        _report_all(args, report, check(args.props, forbidden))


def _secrets_encryption(args: ResourceValidationArgs, report: ReportViolation) -> None:
    check = _cloud_check(args, "secrets_encryption")
    if check is not None and args.name not in config(args, "exemptClusters", []):
        _report_all(args, report, check(args.props))


def _imdsv2(args: ResourceValidationArgs, report: ReportViolation) -> None:
    check = _cloud_check(args, "instance_metadata")
    if check is not None:
        _report_all(args, report, check(args.props, int(config(args, "maxHopLimit", 1))))


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
        _bucket_guards,
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
        remediation=f"Use ClusterIP, or annotate {ALLOW_LOAD_BALANCER} with the reason.",
    ),
]
