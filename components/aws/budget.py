"""Budget: an AWS Budget for the environment's tagged spend, notifying an encrypted SNS
topic at each threshold, and the hard-cap Lambda subscribed to it.

The topic is encrypted with a customer-managed key whose policy lets AWS Budgets use it:
with the default aws/sns key Budgets cannot publish, and notifications vanish silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import naming
from components.aws import budget_enforcer, names
from components.aws.iam import rotated_key, service_role
from components.spec import EnvironmentSpec

ENFORCER_SOURCE = Path(budget_enforcer.__file__)
BUDGETS = "budgets.amazonaws.com"


@dataclass(frozen=True)
class BudgetArgs:
    spec: EnvironmentSpec
    budget_name: str
    cluster_name: str


class Budget(pulumi.ComponentResource):
    def __init__(self, name: str, args: BudgetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:aws:Budget", name, None, opts)
        spec = args.spec
        cfg = spec.aws
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        tags = naming.tags(spec)
        account = cfg.account_id
        key = rotated_key(
            f"{name}-topic-key",
            f"SNS encryption for budget {args.budget_name}",
            tags,
            child,
            policy={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountAdministers",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        "Sid": "BudgetsPublishes",
                        "Effect": "Allow",
                        "Principal": {"Service": BUDGETS},
                        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                    },
                ],
            },
        )
        topic = aws.sns.Topic(f"{name}-topic", kms_master_key_id=key.arn, tags=tags, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=topic.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "BudgetsPublishes",
                                "Effect": "Allow",
                                "Principal": {"Service": BUDGETS},
                                "Action": "SNS:Publish",
                                "Resource": arn,
                                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        # Budgets can filter on a tag only once it is an active cost-allocation tag. The API
        # refuses to activate a tag billing has not seen yet, and in an Organizations member
        # account; so this is opt-in, and otherwise a manual step (README).
        tags_ready = []
        if cfg.activate_cost_allocation_tag:
            tags_ready.append(
                aws.costexplorer.CostAllocationTag(
                    f"{name}-environment-tag", tag_key="environment", status="Active", opts=child
                )
            )
        budget = spec.budget
        thresholds = list(budget.alert_thresholds_pct)
        if budget.hard_cap_pct is not None and budget.hard_cap_pct not in thresholds:
            thresholds = sorted([*thresholds, budget.hard_cap_pct])
        aws.budgets.Budget(
            f"{name}-budget",
            name=args.budget_name,
            budget_type="COST",
            limit_amount=f"{budget.monthly_usd:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(
                    name="TagKeyValue", values=[f"user:environment${spec.environment}"]
                )
            ],
            notifications=[
                aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN",
                    threshold=pct,
                    threshold_type="PERCENTAGE",
                    notification_type="ACTUAL",
                    subscriber_sns_topic_arns=[topic.arn],
                    subscriber_email_addresses=list(budget.notify_emails),
                )
                for pct in thresholds
            ]
            # Warn a month ahead as well as after the fact.
            + [
                aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN",
                    threshold=100,
                    threshold_type="PERCENTAGE",
                    notification_type="FORECASTED",
                    subscriber_sns_topic_arns=[topic.arn],
                    subscriber_email_addresses=list(budget.notify_emails),
                )
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=tags_ready),
        )
        if budget.hard_cap_usd is not None:
            self._enforcer(name, args, topic, tags, child)
        self.register_outputs({})

    def _enforcer(self, name, args: BudgetArgs, topic, tags, child) -> None:
        spec = args.spec
        cfg = spec.aws
        state_prefix = f"/llm-platform/{spec.environment}/budget-enforcer"
        function_name = naming.fit(f"{args.budget_name}-enforcer", names.LAMBDA_FUNCTION)
        logs = aws.cloudwatch.LogGroup(
            f"{name}-enforcer-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=cfg.log_retention_days,
            tags=tags,
            opts=child,
        )
        role = service_role(
            f"{name}-enforcer",
            "lambda.amazonaws.com",
            [
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
            ],
            tags,
            child,
        )
        aws.iam.RolePolicy(
            f"{name}-enforcer",
            role=role.id,
            policy=json.dumps(
                enforcer_policy(cfg.region, cfg.account_id, args.cluster_name, state_prefix)
            ),
            opts=child,
        )
        function = aws.lambda_.Function(
            f"{name}-enforcer",
            name=function_name,
            runtime="python3.12",
            handler="budget_enforcer.handler",
            code=pulumi.AssetArchive(
                {"budget_enforcer.py": pulumi.FileAsset(str(ENFORCER_SOURCE))}
            ),
            role=role.arn,
            timeout=120,
            # No reserved concurrency: a new account's whole quota is 10 and Lambda keeps 10
            # unreserved, so reserving refuses the function. Concurrent runs are safe without
            # it (budget_enforcer's docstring).
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "CLUSTER_NAME": args.cluster_name,
                    "ENVIRONMENT": spec.environment,
                    "BUDGET_NAME": args.budget_name,
                    "HARD_CAP_USD": f"{spec.budget.hard_cap_usd:.2f}",
                    "STATE_PREFIX": state_prefix,
                }
            ),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs]),
        )
        self._subscribe(name, topic, function, child)

    @staticmethod
    def _subscribe(name: str, topic, function, child: pulumi.ResourceOptions) -> None:
        """Let the topic invoke the function, and subscribe it."""
        aws.lambda_.Permission(
            f"{name}-enforcer-sns",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="sns.amazonaws.com",
            source_arn=topic.arn,
            opts=child,
        )
        aws.sns.TopicSubscription(
            f"{name}-enforcer",
            topic=topic.arn,
            protocol="lambda",
            endpoint=function.arn,
            opts=child,
        )


def enforcer_policy(
    region: str, account: str, cluster: str, state_prefix: str
) -> dict[str, object]:
    """What the hard-cap Lambda may do: read and resize the cluster's node groups, and keep
    its records under state_prefix (budget_enforcer's docstring)."""
    eks_arn = f"arn:aws:eks:{region}:{account}"
    cluster_arn = f"{eks_arn}:cluster/{cluster}"
    nodegroups = f"{eks_arn}:nodegroup/{cluster}/*"
    parameters = f"arn:aws:ssm:{region}:{account}:parameter"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "eks:ListNodegroups",
                "Resource": cluster_arn,
            },
            {
                "Effect": "Allow",
                "Action": ["eks:DescribeNodegroup", "eks:UpdateNodegroupConfig"],
                "Resource": nodegroups,
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
