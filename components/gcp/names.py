"""What the Google Cloud APIs accept as the names this package derives from the spec.

Pure data: no Pulumi import. Resources given no name argument are auto-named by
pulumi-gcp: the logical name, "-" and 7 random characters (naming.AUTONAME_SUFFIX).
"""

from __future__ import annotations

from components.naming import AUTONAME_SUFFIX, NameRule

RFC1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"

# "GKE's 40-character limit for NodePool.name" (GoogleCloudPlatform/magic-modules#18477,
# tested against the GKE API); the cluster name has the same 40 (Azure/telescope#989,
# "GCP's 40-character limit" for google_container_cluster.name).
GKE_NODE_POOL = NameRule(
    40,
    RFC1035,
    "https://github.com/GoogleCloudPlatform/magic-modules/pull/18477",
    suffix=AUTONAME_SUFFIX,
)
GKE_CLUSTER = NameRule(40, RFC1035, "https://github.com/Azure/telescope/pull/989")
# "must be 6-30 characters long, and match the regular expression [a-z]([-a-z0-9]*[a-z0-9])"
SERVICE_ACCOUNT_ID = NameRule(
    30,
    r"[a-z]([-a-z0-9]*[a-z0-9])",
    "https://cloud.google.com/python/docs/reference/iam/latest/google.cloud.iam_admin_v1.types.CreateServiceAccountRequest",
    min_len=6,
)
# 3-63 lowercase letters, digits, "-", "_" and "." (dots need domain verification, so
# none here), starting and ending with a letter or digit; no "goog" prefix.
GCS_BUCKET = NameRule(
    63,
    r"(?!goog)[a-z0-9][a-z0-9_-]*[a-z0-9]",
    "https://cloud.google.com/storage/docs/naming-buckets",
    min_len=3,
)
# Compute Engine names (networks, subnetworks, routers, NAT, VPN gateways and tunnels,
# router interfaces and peers): 1-63, RFC 1035.
COMPUTE = NameRule(
    63,
    RFC1035,
    "https://cloud.google.com/compute/docs/naming-resources#resource-name-format",
    suffix=AUTONAME_SUFFIX,
)
# "4-32 characters, and may contain the characters [a-z0-9-]. The prefix gcp- is reserved"
WORKLOAD_IDENTITY_POOL = NameRule(
    32,
    r"(?!gcp-)[a-z0-9-]{4,32}",
    "https://cloud.google.com/iam/docs/reference/rest/v1/projects.locations.workloadIdentityPools/create",
    min_len=4,
)
# The pool's display name "Cannot exceed 32 characters" (same API, WorkloadIdentityPool).
WORKLOAD_IDENTITY_POOL_DISPLAY = NameRule(
    32,
    r"[ -~]+",
    "https://www.pulumi.com/registry/packages/google-native/api-docs/iam/v1/workloadidentitypool",
    allowed=" -~",
)
# Labels (resource, user and budget-filter labels): keys 1-63 starting with a lowercase
# letter, values 0-63; both only lowercase letters, digits, "_" and "-".
LABEL_VALUE = NameRule(
    63,
    r"[a-z0-9_-]*",
    "https://cloud.google.com/resource-manager/docs/labels-overview#requirements",
    allowed="a-z0-9_-",
    min_len=0,
)
