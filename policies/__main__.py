"""Entry point the Pulumi engine runs (`python -m pulumi.policy <engine> policies`): it only
builds the pack; the rules live in llm_platform_rules."""

from llm_platform_rules import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="llm-platform",
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Tags, cost caps, GPU and spot rules, security and reliability for "
    "llm-platform environments.",
)
