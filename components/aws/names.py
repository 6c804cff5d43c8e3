"""What the AWS APIs accept as the names this package derives from the spec.

Pure data: no Pulumi import. Auto-named resources (no explicit name argument) get the
logical name plus Pulumi's 8-character suffix (naming.AUTONAME_SUFFIX); pulumi-aws
auto-names every input called `name` (provider/autonaming.go `setAutonaming`) and the EKS
node group's `nodeGroupName` (provider/resources.go, AutoName("nodeGroupName", 255, "-")),
with a cap of 255 there, so the API's own limit is the one that bites.
"""

from __future__ import annotations

from components.naming import AUTONAME_SUFFIX, NameRule

IAM_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"

# Role names: 64 characters (IAM quotas, "IAM object character limits"; also kubernetes/kops#10437).
IAM_ROLE = NameRule(
    64, r"[A-Za-z0-9_+=,.@-]+", IAM_QUOTAS, allowed="A-Za-z0-9_+=,.@-", suffix=AUTONAME_SUFFIX
)
# Inline policy names: 128 characters, same page.
IAM_INLINE_POLICY = NameRule(
    128, r"[A-Za-z0-9_+=,.@-]+", IAM_QUOTAS, allowed="A-Za-z0-9_+=,.@-", suffix=AUTONAME_SUFFIX
)
# "The node group name can't be longer than 63 characters. It must start with a letter or
# digit, but can also include hyphens and underscores" (pulumi-aws eks.NodeGroup docs,
# from the EKS CreateNodegroup API).
EKS_NODE_GROUP = NameRule(
    63,
    r"[0-9A-Za-z][A-Za-z0-9_-]*",
    "https://pub.dev/documentation/pulumi_aws/latest/eks/NodeGroup/nodeGroupName.html",
    allowed="A-Za-z0-9_-",
    suffix=AUTONAME_SUFFIX,
)
# "alphanumeric characters (case-sensitive), hyphens, and underscores. It must start with
# an alphanumeric character and can't be longer than 100 characters."
EKS_CLUSTER = NameRule(
    100,
    r"[0-9A-Za-z][A-Za-z0-9_-]*",
    "https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/eks/aws.sdk.kotlin.services.eks.model/-create-cluster-request/name.html",
    allowed="A-Za-z0-9_-",
)
# "between 3 (min) and 63 (max) characters long ... only lowercase letters, numbers, periods
# (.), and hyphens (-) ... begin and end with a letter or number".
S3_BUCKET = NameRule(
    63,
    r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    allowed="a-z0-9.-",
    min_len=3,
)
# "If you specify only the function name, it is limited to 64 characters in length";
# pattern ([a-zA-Z0-9-_]+) (Lambda API FunctionName).
LAMBDA_FUNCTION = NameRule(
    64,
    r"[A-Za-z0-9_-]+",
    "https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/lambda/aws.sdk.kotlin.services.lambda.model/-invoke-request/function-name.html",
    allowed="A-Za-z0-9_-",
)
