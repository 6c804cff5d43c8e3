"""Budget: an AWS Budget for the environment's tagged spend, notifying an encrypted SNS
topic at each threshold, and the hard-cap Lambda subscribed to it.

The topic is encrypted with a customer-managed key whose policy lets AWS Budgets use it:
with the default aws/sns key Budgets cannot publish, and notifications vanish silently.
budget_config.py and iam_documents.py say what each piece is made of.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.aws import budget_config as build
from components.aws.args import BudgetArgs, EnforcerArgs
from components.aws.iam import rotated_key, service_role
from components.aws.iam_documents import (
    budget_key_policy,
    budget_topic_policy,
    enforcer_policy,
    send_dead_letters_policy,
)

# The Lambda's source, shipped as a file: importing it would need boto3, which the Lambda
# runtime provides and a plan of an AWS stack (locks/plan_aws.txt) does not install.
ENFORCER_SOURCE = Path(__file__).with_name("budget_enforcer.py")


@dataclass(frozen=True)
class _DeadLetters:
    arn: pulumi.Output[str]
    policy: aws.iam.RolePolicy


class Budget(pulumi.ComponentResource):
    def __init__(self, name: str, args: BudgetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:aws:Budget", name, None, opts)
        self._base, self._args = name, args
        child = pulumi.ResourceOptions(parent=self)
        enforcer = args.enforcer
        # With a hard cap the topic's key also encrypts the Lambda's logs, environment and
        # dead-letter queue, and the dead-letter alarm publishes to the topic.
        key = rotated_key(
            f"{name}-topic-key",
            f"SNS encryption for budget {args.budget_name}",
            args.tags,
            child,
            policy=budget_key_policy(
                args.account_id,
                (enforcer.region, build.enforcer_log_group(enforcer)) if enforcer else None,
            ),
        )
        topic = aws.sns.Topic(
            f"{name}-topic", kms_master_key_id=key.arn, tags=args.tags, opts=child
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=topic.arn.apply(
                lambda arn: json.dumps(
                    budget_topic_policy(arn, args.account_id, enforcer.region if enforcer else None)
                )
            ),
            opts=child,
        )
        # Budgets can filter on a tag only once it is an active cost-allocation tag. The API
        # refuses to activate a tag billing has not seen yet, and in an Organizations member
        # account; so this is opt-in, and otherwise a manual step (README).
        tags_ready = []
        if args.activate_cost_allocation_tag:
            tags_ready.append(
                aws.costexplorer.CostAllocationTag(
                    f"{name}-environment-tag", tag_key="environment", status="Active", opts=child
                )
            )
        aws.budgets.Budget(
            f"{name}-budget",
            **build.budget(args, topic.arn),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=tags_ready),
        )
        if enforcer is not None:
            self._enforcer(enforcer, topic, key)
        self.register_outputs({})

    def _enforcer(self, enforcer: EnforcerArgs, topic: aws.sns.Topic, key: aws.kms.Key) -> None:
        name, tags = f"{self._base}-enforcer", self._args.tags
        child = pulumi.ResourceOptions(parent=self)
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=build.enforcer_log_group(enforcer),
            retention_in_days=build.enforcer_log_retention(enforcer),
            kms_key_id=key.arn,
            tags=tags,
            opts=child,
        )
        role = service_role(
            name, "lambda.amazonaws.com", build.ENFORCER_MANAGED_POLICIES, tags, child
        )
        policy = enforcer_policy(
            enforcer.region, enforcer.account_id, enforcer.cluster_name, enforcer.state_prefix
        )
        aws.iam.RolePolicy(name, role=role.id, policy=json.dumps(policy), opts=child)
        queue = self._dead_letters(enforcer, topic, key, role)
        function = aws.lambda_.Function(
            name,
            name=enforcer.function_name,
            runtime="python3.12",
            handler="budget_enforcer.handler",
            code=pulumi.AssetArchive(
                {"budget_enforcer.py": pulumi.FileAsset(str(ENFORCER_SOURCE))}
            ),
            role=role.arn,
            timeout=120,
            # No reserved concurrency: Lambda refuses one that leaves under 100 unreserved
            # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html),
            # and new accounts get reduced concurrency quotas (.../lambda/latest/dg/limits.html),
            # so reserving can refuse the function. Concurrent runs are safe without it
            # (budget_enforcer's docstring); scanner.py skips Checkov CKV_AWS_115 so.
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=build.enforcer_environment(enforcer, self._args.budget_name)
            ),
            # CKV_AWS_173 (checks/resource/aws/LambdaEnvironmentEncryptionSettings.py).
            kms_key_arn=key.arn,
            # After its retries an SNS event that still fails lands here (CKV_AWS_116).
            dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(target_arn=queue.arn),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs, queue.policy]),
        )
        self._subscribe(topic, function)

    def _dead_letters(
        self, enforcer: EnforcerArgs, topic: aws.sns.Topic, key: aws.kms.Key, role: aws.iam.Role
    ) -> _DeadLetters:
        """The encrypted queue, the role's right to send to it, and the alarm on it."""
        name, child = f"{self._base}-enforcer-dlq", pulumi.ResourceOptions(parent=self)
        queue = aws.sqs.Queue(
            name, **build.dead_letter_queue(enforcer, key.arn), tags=self._args.tags, opts=child
        )
        send = pulumi.Output.all(queue.arn, key.arn).apply(
            lambda a: json.dumps(send_dead_letters_policy(a[0], a[1]))
        )
        # Lambda checks at create time that the role may send to the queue.
        policy = aws.iam.RolePolicy(name, role=role.id, policy=send, opts=child)
        aws.cloudwatch.MetricAlarm(
            name,
            **build.dead_letter_alarm(queue.name, topic.arn),
            tags=self._args.tags,
            opts=child,
        )
        return _DeadLetters(queue.arn, policy)

    def _subscribe(self, topic: aws.sns.Topic, function: aws.lambda_.Function) -> None:
        """Let the topic invoke the function, and subscribe it."""
        child = pulumi.ResourceOptions(parent=self)
        aws.lambda_.Permission(
            f"{self._base}-enforcer-sns",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="sns.amazonaws.com",
            source_arn=topic.arn,
            opts=child,
        )
        aws.sns.TopicSubscription(
            f"{self._base}-enforcer",
            topic=topic.arn,
            protocol="lambda",
            endpoint=function.arn,
            opts=child,
        )
