"""NodeGroup: an EKS managed node group on its own launch template.

The launch template requires IMDSv2 with a hop limit of 1, so a pod cannot reach the
node's instance credentials (pods get theirs from Pod Identity), and encrypts the root
volume. GPU groups use the NVIDIA AMI type and carry the `nvidia.com/gpu` taint; training
groups run on SPOT across several instance types.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming, pricing
from components.aws import names
from components.kubernetes.facts import Taint
from components.naming import fit
from components.spec import EnvironmentSpec, GpuPool

GPU_AMI = "AL2023_x86_64_NVIDIA"
CPU_AMI = "AL2023_x86_64_STANDARD"
GPU_ROOT_GIB = 200  # engine images are 10-20 GB and the NVIDIA AMI ships CUDA
CPU_ROOT_GIB = 50


@dataclass(frozen=True)
class NodeGroupArgs:
    spec: EnvironmentSpec
    cluster_name: pulumi.Input[str]
    node_role_arn: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    # None for the system group.
    pool: GpuPool | None
    node_labels: dict[str, str]
    desired: int
    node_hours: int
    # The platform's taints on the pool (PoolScheduling.platform_taints); none on the system group.
    taints: tuple[Taint, ...] = ()


# EKS spells taint effects in its API's enum.
EKS_EFFECT = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
}


class NodeGroup(pulumi.ComponentResource):
    name: pulumi.Output[str]

    def __init__(self, name: str, args: NodeGroupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:aws:NodeGroup", name, None, opts)
        spec, pool = args.spec, args.pool
        cfg = spec.aws
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        tags = {**naming.tags(spec), pricing.NODE_HOURS_TAG: str(args.node_hours)}
        if pool is not None:
            tags.update(pricing.pool_tags(pool, args.node_hours))
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=GPU_ROOT_GIB if pool else CPU_ROOT_GIB,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume")
            ],
            tags=tags,
            opts=child,
        )
        if pool is None:
            types, ami, capacity = [cfg.system_instance_type], CPU_AMI, "ON_DEMAND"
            bounds = (cfg.system_nodes, cfg.system_nodes)
        else:
            assert pool.instance_type is not None  # spec.check requires it on cloud pools
            types = [pool.instance_type, *pool.extra_instance_types]
            ami = GPU_AMI
            capacity = "SPOT" if pool.capacity == "spot" else "ON_DEMAND"
            bounds = (pool.min_nodes, pool.max_nodes)
        group = aws.eks.NodeGroup(
            fit(f"{name}-ng", names.EKS_NODE_GROUP),
            cluster_name=args.cluster_name,
            node_role_arn=args.node_role_arn,
            subnet_ids=args.subnet_ids,
            ami_type=ami,
            capacity_type=capacity,
            instance_types=types,
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=bounds[0], max_size=bounds[1], desired_size=args.desired
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels=args.node_labels,
            taints=[
                aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value, effect=EKS_EFFECT[t.effect])
                for t in args.taints
            ]
            or None,
            tags=tags,
            # The cluster autoscaler (and the budget enforcer) own the size after creation.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
        )
        self.name = group.node_group_name
        self.register_outputs({"name": self.name})
