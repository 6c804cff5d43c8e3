"""Budget: a Cloud Billing budget on the environment's labelled spend, publishing every
update to a Pub/Sub topic at the spec's thresholds."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.gcp.args import BudgetArgs

# The service account Cloud Billing publishes budget notifications as.
BILLING_PUBLISHER = "serviceAccount:billing-budget-alert@system.gserviceaccount.com"


def email_channel(args: BudgetArgs, email: str) -> dict[str, Any]:
    return dict(
        display_name=f"{args.budget_name} budget: {email}",
        type="email",
        labels={"email_address": email},
        user_labels=args.labels,
    )


def budget(
    args: BudgetArgs, topic: pulumi.Input[str], channels: list[pulumi.Input[str]]
) -> dict[str, Any]:
    """A monthly budget on spend labelled with the environment: a rule per threshold of
    actual spend, and one when the forecast reaches the whole budget."""
    return dict(
        billing_account=args.billing_account,
        display_name=args.budget_name,
        budget_filter=gcp.billing.BudgetBudgetFilterArgs(
            labels={"environment": args.environment}, calendar_period="MONTH"
        ),
        amount=gcp.billing.BudgetAmountArgs(
            specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(
                currency_code="USD", units=str(round(args.monthly_usd))
            )
        ),
        threshold_rules=[
            gcp.billing.BudgetThresholdRuleArgs(threshold_percent=pct / 100)
            for pct in args.thresholds_pct
        ]
        + [
            gcp.billing.BudgetThresholdRuleArgs(
                threshold_percent=1.0, spend_basis="FORECASTED_SPEND"
            )
        ],
        all_updates_rule=gcp.billing.BudgetAllUpdatesRuleArgs(
            pubsub_topic=topic, schema_version="1.0", monitoring_notification_channels=channels
        ),
    )


class Budget(pulumi.ComponentResource):
    def __init__(self, name: str, args: BudgetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:gcp:Budget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = gcp.pubsub.Topic(
            f"{name}-topic", name=f"{args.budget_name}-budget", labels=args.labels, opts=child
        )
        gcp.pubsub.TopicIAMMember(
            f"{name}-publisher",
            topic=topic.name,
            role="roles/pubsub.publisher",
            member=BILLING_PUBLISHER,
            opts=child,
        )
        channels: list[pulumi.Input[str]] = [
            gcp.monitoring.NotificationChannel(
                f"{name}-email-{i}", **email_channel(args, email), opts=child
            ).id
            for i, email in enumerate(args.notify_emails)
        ]
        gcp.billing.Budget(f"{name}-budget", **budget(args, topic.id, channels), opts=child)
        self.register_outputs({})
