"""Budget: a Cloud Billing budget on the environment's labelled spend, publishing every
update to a Pub/Sub topic at the spec's thresholds."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.gcp.cluster import labels
from components.spec import EnvironmentSpec

# The service account Cloud Billing publishes budget notifications as.
BILLING_PUBLISHER = "serviceAccount:billing-budget-alert@system.gserviceaccount.com"


@dataclass(frozen=True)
class BudgetArgs:
    spec: EnvironmentSpec
    budget_name: str


class Budget(pulumi.ComponentResource):
    def __init__(self, name: str, args: BudgetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:gcp:Budget", name, None, opts)
        spec = args.spec
        cfg = spec.gcp
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        topic = gcp.pubsub.Topic(
            f"{name}-topic", name=f"{args.budget_name}-budget", labels=labels(spec), opts=child
        )
        gcp.pubsub.TopicIAMMember(
            f"{name}-publisher",
            topic=topic.name,
            role="roles/pubsub.publisher",
            member=BILLING_PUBLISHER,
            opts=child,
        )
        budget = spec.budget
        channels = [
            gcp.monitoring.NotificationChannel(
                f"{name}-email-{i}",
                display_name=f"{args.budget_name} budget: {email}",
                type="email",
                labels={"email_address": email},
                user_labels=labels(spec),
                opts=child,
            ).id
            for i, email in enumerate(budget.notify_emails)
        ]
        thresholds = sorted(
            {*budget.alert_thresholds_pct, *([budget.hard_cap_pct] if budget.hard_cap_pct else [])}
        )
        gcp.billing.Budget(
            f"{name}-budget",
            billing_account=cfg.billing_account,
            display_name=args.budget_name,
            budget_filter=gcp.billing.BudgetBudgetFilterArgs(
                labels={"environment": spec.environment}, calendar_period="MONTH"
            ),
            amount=gcp.billing.BudgetAmountArgs(
                specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(
                    currency_code="USD", units=str(round(budget.monthly_usd))
                )
            ),
            threshold_rules=[
                gcp.billing.BudgetThresholdRuleArgs(threshold_percent=pct / 100)
                for pct in thresholds
            ]
            + [
                gcp.billing.BudgetThresholdRuleArgs(
                    threshold_percent=1.0, spend_basis="FORECASTED_SPEND"
                )
            ],
            all_updates_rule=gcp.billing.BudgetAllUpdatesRuleArgs(
                pubsub_topic=topic.id,
                schema_version="1.0",
                monitoring_notification_channels=channels,
            ),
            opts=child,
        )
        self.register_outputs({})
