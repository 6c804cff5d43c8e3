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
