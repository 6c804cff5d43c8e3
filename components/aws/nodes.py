"""What an EKS managed node group and its launch template are made of, from NodeGroupArgs.

The launch template requires IMDSv2 with a hop limit of 1, so a pod cannot reach the
node's instance credentials (pods get theirs from Pod Identity), and encrypts the root
volume. GPU groups use the NVIDIA AMI type and a root volume that holds engine images.
"""

from __future__ import annotations

from typing import Any

import pulumi_aws as aws

from components.aws.args import NodeGroupArgs
from components.kubernetes.facts import Taint

GPU_AMI = "AL2023_x86_64_NVIDIA"
CPU_AMI = "AL2023_x86_64_STANDARD"
GPU_ROOT_GIB = 200  # engine images are 10-20 GB and the NVIDIA AMI ships CUDA
CPU_ROOT_GIB = 50

# EKS spells taint effects in its API's enum.
EKS_EFFECT = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
}


def launch_template(args: NodeGroupArgs) -> dict[str, Any]:
    """Keyword arguments of the group's aws.ec2.LaunchTemplate."""
    return dict(
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            http_put_response_hop_limit=1,
        ),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=GPU_ROOT_GIB if args.gpu else CPU_ROOT_GIB,
                    volume_type="gp3",
                    encrypted="true",
                    delete_on_termination="true",
                ),
            )
        ],
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=args.tags)
            for kind in ("instance", "volume")
        ],
        tags=args.tags,
    )


def eks_taints(taints: tuple[Taint, ...]) -> list[aws.eks.NodeGroupTaintArgs] | None:
    """The taints in the EKS API's spelling; None (not an empty list) when there are none."""
    return [
        aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value, effect=EKS_EFFECT[t.effect])
        for t in taints
    ] or None


def node_group(args: NodeGroupArgs) -> dict[str, Any]:
    """Keyword arguments of the aws.eks.NodeGroup, except where it joins (the cluster,
    role and subnets) and its launch template."""
    return dict(
        ami_type=GPU_AMI if args.gpu else CPU_AMI,
        capacity_type=args.capacity_type,
        instance_types=list(args.instance_types),
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            min_size=args.min_size, max_size=args.max_size, desired_size=args.desired_size
        ),
        update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
        labels=args.labels,
        taints=eks_taints(args.taints),
        tags=args.tags,
    )
