"""NodeGroup: an EKS managed node group on its own launch template (nodes.py says what
both are made of)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws import names, nodes
from components.aws.args import NodeGroupArgs, NodeGroupPlacement
from components.naming import fit


class NodeGroup(pulumi.ComponentResource):
    name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: NodeGroupArgs,
        placement: NodeGroupPlacement,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llm-platform:aws:NodeGroup", name, None, opts)
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt", **nodes.launch_template(args), opts=pulumi.ResourceOptions(parent=self)
        )
        group = aws.eks.NodeGroup(
            fit(f"{name}-ng", names.EKS_NODE_GROUP),
            cluster_name=placement.cluster_name,
            node_role_arn=placement.node_role_arn,
            subnet_ids=placement.subnet_ids,
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            **nodes.node_group(args),
            # The cluster autoscaler (and the budget enforcer) own the size after creation.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
        )
        self.name = group.node_group_name
        self.register_outputs({"name": self.name})
