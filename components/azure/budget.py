"""Budget: a consumption budget on the subscription's spend tagged with this
environment, notifying an action group (and the spec's emails) at each threshold."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components import naming
from components.azure import names
from components.naming import fit
from components.spec import EnvironmentSpec


@dataclass(frozen=True)
class BudgetArgs:
    spec: EnvironmentSpec
    budget_name: str
    resource_group: pulumi.Input[str]


class Budget(pulumi.ComponentResource):
    def __init__(self, name: str, args: BudgetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:azure:Budget", name, None, opts)
        spec = args.spec
        cfg = spec.azure
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        budget = spec.budget
        group = azure.monitor.ActionGroup(
            f"{name}-actions",
            action_group_name=f"{args.budget_name}-budget",
            resource_group_name=args.resource_group,
            location="Global",
            group_short_name=fit(f"llm{spec.environment}", names.ACTION_GROUP_SHORT),
            enabled=True,
            email_receivers=[
                azure.monitor.MicrosoftCommonEmailReceiverArgs(
                    name=f"email-{i}", email_address=email, use_common_alert_schema=True
                )
                for i, email in enumerate(budget.notify_emails)
            ],
            tags=naming.tags(spec),
            opts=child,
        )
        thresholds = sorted(
            {*budget.alert_thresholds_pct, *([budget.hard_cap_pct] if budget.hard_cap_pct else [])}
        )
        notifications = {
            f"actual-{pct}": azure.consumption.NotificationArgs(
                enabled=True,
                operator="GreaterThan",
                threshold=pct,
                threshold_type="Actual",
                contact_emails=list(budget.notify_emails),
                contact_groups=[group.id],
            )
            for pct in thresholds
        }
        notifications["forecast-100"] = azure.consumption.NotificationArgs(
            enabled=True,
            operator="GreaterThan",
            threshold=100,
            threshold_type="Forecasted",
            contact_emails=list(budget.notify_emails),
            contact_groups=[group.id],
        )
        azure.consumption.Budget(
            f"{name}-budget",
            budget_name=args.budget_name,
            scope=f"/subscriptions/{cfg.subscription_id}",
            amount=budget.monthly_usd,
            category="Cost",
            time_grain="Monthly",
            time_period=azure.consumption.BudgetTimePeriodArgs(
                start_date=f"{cfg.budget_start}T00:00:00Z"
            ),
            # Node VMs live in AKS's own resource group, so filter on the tag, not the group.
            filter=azure.consumption.BudgetFilterArgs(
                tags=azure.consumption.BudgetComparisonExpressionArgs(
                    name="environment", operator="In", values=[spec.environment]
                )
            ),
            notifications=notifications,
            opts=child,
        )
        self.register_outputs({})
