"""What the AWS Budget and the hard-cap Lambda are made of, from BudgetArgs."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.args import BudgetArgs, EnforcerArgs

ENFORCER_MANAGED_POLICIES = [
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
]


def _notification(
    kind: str, pct: int, topic_arn: pulumi.Input[str], args: BudgetArgs
) -> aws.budgets.BudgetNotificationArgs:
    return aws.budgets.BudgetNotificationArgs(
        comparison_operator="GREATER_THAN",
        threshold=pct,
        threshold_type="PERCENTAGE",
        notification_type=kind,
        subscriber_sns_topic_arns=[topic_arn],
        subscriber_email_addresses=list(args.notify_emails),
    )


def notifications(
    args: BudgetArgs, topic_arn: pulumi.Input[str]
) -> list[aws.budgets.BudgetNotificationArgs]:
    """One notification of actual spend per threshold, and a forecast of the whole budget,
    to warn a month ahead as well as after the fact."""
    return [_notification("ACTUAL", pct, topic_arn, args) for pct in args.thresholds_pct] + [
        _notification("FORECASTED", 100, topic_arn, args)
    ]


def budget(args: BudgetArgs, topic_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Keyword arguments of the aws.budgets.Budget: the monthly limit on the spend tagged
    with the environment."""
    return dict(
        name=args.budget_name,
        budget_type="COST",
        limit_amount=f"{args.monthly_usd:.2f}",
        limit_unit="USD",
        time_unit="MONTHLY",
        cost_filters=[
            aws.budgets.BudgetCostFilterArgs(
                name="TagKeyValue", values=[f"user:environment${args.environment}"]
            )
        ],
        notifications=notifications(args, topic_arn),
    )


def enforcer_environment(args: EnforcerArgs, budget_name: str) -> dict[str, str]:
    """The hard-cap Lambda's configuration (budget_enforcer.Config.from_env reads it)."""
    return {
        "CLUSTER_NAME": args.cluster_name,
        "ENVIRONMENT": args.environment,
        "BUDGET_NAME": budget_name,
        "HARD_CAP_USD": f"{args.hard_cap_usd:.2f}",
        "STATE_PREFIX": args.state_prefix,
    }


# SQS's longest retention (1,209,600 s: the MessageRetentionPeriod range of
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html),
# so a lost cap waits two weeks for someone to read it and cap by hand.
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
# How long SQS reuses a data key before asking KMS again: its maximum, 24 h (same page),
# so the queue costs few KMS requests.
DEAD_LETTER_KEY_REUSE_SECONDS = 24 * 3600


# The enforcer logs a few lines per budget notification (a handful a month), so a year, the
# usual audit window (Checkov CKV_AWS_338), costs nothing even where the spec keeps the large
# EKS and flow logs shorter.
ENFORCER_MIN_LOG_DAYS = 365


def enforcer_log_retention(args: EnforcerArgs) -> int:
    """Days CloudWatch keeps the enforcer's logs: the spec's retention, at least a year."""
    return max(args.log_retention_days, ENFORCER_MIN_LOG_DAYS)


def enforcer_log_group(args: EnforcerArgs) -> str:
    """The log group Lambda writes the function's logs to, created by us with retention."""
    return f"/aws/lambda/{args.function_name}"


def dead_letter_queue(args: EnforcerArgs, key_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Keyword arguments of the enforcer's dead-letter queue: a cap notification whose runs
    all failed lands here instead of vanishing (Checkov CKV_AWS_116,
    checks/resource/aws/LambdaDLQConfigured.py), encrypted with the budget's key."""
    return dict(
        name=f"{args.function_name}-dlq",
        message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
        kms_master_key_id=key_arn,
        kms_data_key_reuse_period_seconds=DEAD_LETTER_KEY_REUSE_SECONDS,
    )


def dead_letter_alarm(
    queue_name: pulumi.Input[str], topic_arn: pulumi.Input[str]
) -> dict[str, Any]:
    """Keyword arguments of the alarm on the dead-letter queue: one message waiting there is
    an unenforced cap, so any visible message alarms, on the budget's topic, at once."""
    return dict(
        alarm_description="A hard-cap notification failed every retry: the budget is not "
        "enforced. Read the message on the queue and cap by hand.",
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": queue_name},
        statistic="Maximum",
        period=300,
        evaluation_periods=1,
        comparison_operator="GreaterThanThreshold",
        threshold=0,
        # An idle queue publishes no datapoints; no data means nothing waits.
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
    )
