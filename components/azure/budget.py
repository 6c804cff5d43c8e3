"""Budget: a consumption budget on the subscription's spend tagged with this
environment, notifying an action group (and the spec's emails) at each threshold."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure

from components.azure.args import BudgetArgs


def action_group(args: BudgetArgs, resource_group: pulumi.Input[str]) -> dict[str, Any]:
    return dict(
        action_group_name=f"{args.budget_name}-budget",
        resource_group_name=resource_group,
        location="Global",
        group_short_name=args.short_name,
        enabled=True,
        email_receivers=[
            azure.monitor.MicrosoftCommonEmailReceiverArgs(
                name=f"email-{i}", email_address=email, use_common_alert_schema=True
            )
            for i, email in enumerate(args.notify_emails)
        ],
        tags=args.tags,
    )


def notifications(
    args: BudgetArgs, group_id: pulumi.Input[str]
) -> dict[str, azure.consumption.NotificationArgs]:
    """One notification per threshold of actual spend, and one when the forecast passes
    the whole budget; each to the emails and the action group."""

    def notify(threshold: float, kind: str) -> azure.consumption.NotificationArgs:
        return azure.consumption.NotificationArgs(
            enabled=True,
            operator="GreaterThan",
            threshold=threshold,
            threshold_type=kind,
            contact_emails=list(args.notify_emails),
            contact_groups=[group_id],
        )

    actual = {f"actual-{pct}": notify(pct, "Actual") for pct in args.thresholds_pct}
    return {**actual, "forecast-100": notify(100, "Forecasted")}


def budget(
    args: BudgetArgs, rules: dict[str, azure.consumption.NotificationArgs]
) -> dict[str, Any]:
    return dict(
        budget_name=args.budget_name,
        scope=f"/subscriptions/{args.subscription_id}",
        amount=args.monthly_usd,
        category="Cost",
        time_grain="Monthly",
        time_period=azure.consumption.BudgetTimePeriodArgs(start_date=f"{args.start_date}T00:00:00Z"),
        # Node VMs live in AKS's own resource group, so filter on the tag, not the group.
        filter=azure.consumption.BudgetFilterArgs(
            tags=azure.consumption.BudgetComparisonExpressionArgs(
                name="environment", operator="In", values=[args.environment]
            )
        ),
        notifications=rules,
    )


class Budget(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: BudgetArgs,
        resource_group: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llm-platform:azure:Budget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = azure.monitor.ActionGroup(
            f"{name}-actions", **action_group(args, resource_group), opts=child
        )
        azure.consumption.Budget(
            f"{name}-budget", **budget(args, notifications(args, group.id)), opts=child
        )
        self.register_outputs({})
