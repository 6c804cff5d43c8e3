"""Budget: a Cloud Billing budget on the environment's labelled spend, publishing every
update to a Pub/Sub topic at the spec's thresholds. The topic's messages are encrypted with
a Cloud KMS key of the environment's key ring and stored in its region only."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.gcp.args import BudgetArgs
from components.gcp.cluster import KEY_ROTATION_DAYS

# The service account Cloud Billing publishes budget notifications as.
BILLING_PUBLISHER = "serviceAccount:billing-budget-alert@system.gserviceaccount.com"
KEY_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


def pubsub_service_agent(project_number: str) -> str:
    """The account Pub/Sub wraps a CMEK topic's data keys as: the one that needs the key
    (cloud.google.com/pubsub/docs/cmek: "service-${PROJECT_NUMBER}@gcp-sa-pubsub..." with the
    CryptoKey Encrypter/Decrypter role). Publishers, Cloud Billing among them, need only
    roles/pubsub.publisher: Pub/Sub encrypts what they publish."""
    return f"serviceAccount:service-{project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"


def topic(args: BudgetArgs, key: pulumi.Input[str]) -> dict[str, Any]:
    """Encrypted with `key`, a key of the region's key ring (rotated as the cluster's Secrets
    key is). Pub/Sub recommends global keys, as a regional one "could introduce unwanted
    dependencies on cross-regional network links" where messages are stored elsewhere
    (cloud.google.com/pubsub/docs/cmek); the storage policy keeps them in the key's region
    instead. Messages published from another region are "routed for storage in one of the
    allowed regions" (the Topic API's messageStoragePolicy), so Cloud Billing's still land."""
    return dict(
        name=f"{args.budget_name}-budget",
        kms_key_name=key,
        message_storage_policy=gcp.pubsub.TopicMessageStoragePolicyArgs(
            allowed_persistence_regions=[args.region]
        ),
        labels=args.labels,
    )


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
    def __init__(
        self,
        name: str,
        args: BudgetArgs,
        key_ring: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`key_ring`: the environment's Cloud KMS key ring (Cluster.key_ring_id), in
        args.region."""
        super().__init__("llm-platform:gcp:Budget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key, grant = self._key(name, args, key_ring, child)
        pubsub_topic = gcp.pubsub.Topic(
            f"{name}-topic",
            **topic(args, key.id),
            # Pub/Sub checks its service agent's access to the key when the topic is made.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )
        gcp.pubsub.TopicIAMMember(
            f"{name}-publisher",
            topic=pubsub_topic.name,
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
        gcp.billing.Budget(
            f"{name}-budget", **budget(args, pubsub_topic.id, channels), opts=child
        )
        self.register_outputs({})

    @staticmethod
    def _key(
        name: str, args: BudgetArgs, key_ring: pulumi.Input[str], child: pulumi.ResourceOptions
    ) -> tuple[gcp.kms.CryptoKey, gcp.kms.CryptoKeyIAMMember]:
        """The topic's key, usable by the project's Pub/Sub service agent only."""
        key = gcp.kms.CryptoKey(
            f"{name}-key",
            name="budget-topic",
            key_ring=key_ring,
            rotation_period=f"{KEY_ROTATION_DAYS * 86400}s",
            labels=args.labels,
            opts=child,
        )
        project = gcp.organizations.get_project_output(project_id=args.project)
        grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-key-pubsub",
            crypto_key_id=key.id,
            role=KEY_ROLE,
            member=project.number.apply(pubsub_service_agent),
            opts=child,
        )
        return key, grant
