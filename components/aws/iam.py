"""IAM roles and KMS keys as every AWS component here makes them: one place for the trust
policy shape, the attachment naming and the key rotation settings."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws import names
from components.naming import fit


def assume_role(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
    )


def service_role(
    name: str,
    service: str,
    managed: list[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    """A role `service` assumes, with AWS-managed policies attached one resource each."""
    role = aws.iam.Role(
        fit(name, names.IAM_ROLE), assume_role_policy=assume_role(service), tags=tags, opts=opts
    )
    for arn in managed:
        aws.iam.RolePolicyAttachment(
            f"{name}-{arn.rsplit('/', 1)[-1]}", role=role.name, policy_arn=arn, opts=opts
        )
    return role


def pod_identity_role(
    name: str,
    policy: pulumi.Input[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    """An IAM role for EKS Pod Identity with one inline least-privilege policy."""
    role = service_role(name, "pods.eks.amazonaws.com", [], tags, opts)
    aws.iam.RolePolicy(fit(name, names.IAM_INLINE_POLICY), role=role.id, policy=policy, opts=opts)
    return role


def rotated_key(
    name: str,
    description: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    policy: dict[str, Any],
) -> aws.kms.Key:
    """A customer-managed key rotated yearly, with a 30-day window before deletion, and an
    explicit policy (iam_documents.key_policy): never the default one AWS would attach."""
    return aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=json.dumps(policy),
        tags=tags,
        opts=opts,
    )
