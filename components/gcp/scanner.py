"""Checkov checks that do not fit this cloud's resources, each with its reason
(components/scan.py says how the exports carry them). Pure: no Pulumi import."""

from __future__ import annotations

from components.scan import Skip

BUCKET = "gcp:storage/bucket:Bucket"
GKE_CLUSTER = "gcp:container/cluster:Cluster"

SKIPS: tuple[Skip, ...] = (
    # ArtifactBucket (artifacts.py): the bucket the artifacts bucket's access logs go to.
    Skip(
        BUCKET,
        "-artifacts-logs",
        "CKV_GCP_62",
        "This is the access-log bucket itself: logging it to itself fails CKV_GCP_63 and to a "
        "further bucket only moves the check; its one writer is Cloud Storage's log group",
    ),
    # Cluster (cluster.py): the GKE cluster.
    Skip(
        GKE_CLUSTER,
        "-cluster-gke",
        "CKV_GCP_66",
        "Enforcing the project's default Binary Authorization policy (allow all images) is a "
        "hook, not a control; a require-attestation policy needs a signer for every image, "
        "third-party chart images included, which the platform does not run",
    ),
    Skip(
        GKE_CLUSTER,
        "-cluster-gke",
        "CKV_GCP_65",
        "Google Groups for RBAC needs a Google Workspace or Cloud Identity domain holding a "
        "gke-security-groups@<domain> group; the spec names no such domain, and cluster access "
        "is granted through IAM roles",
    ),
)
