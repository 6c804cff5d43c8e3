"""The `aws` block of the spec: where an AWS environment runs and how its network and EKS
cluster are shaped. Pure: no Pulumi import."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from components import catalog
from components.spec.errors import echo
from components.spec.fields import (
    Cidr,
    Int,
    KubernetesVersion,
    PrivateCidr,
    SpecBlock,
    prefix_between,
    system_instance_type,
)


class Aws(SpecBlock):
    region: str = Field(
        pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$",
        description="the AWS region every resource is created in",
        examples=["us-east-1"],
    )
    account_id: str = Field(
        pattern=r"^[0-9]{12}$",
        description="the only account this stack may deploy into",
        examples=["123456789012"],
    )
    availability_zones: list[str] | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="the three zones of the VPC's subnets; default <region>a, b and c",
        examples=[["us-east-1a", "us-east-1b", "us-east-1d"]],
    )
    vpc_cidr: PrivateCidr = Field(
        default="10.40.0.0/16", description="RFC 1918, /16 to /24", examples=["10.40.0.0/16"]
    )
    nat: Literal["per-az", "single"] = Field(
        default="per-az",
        description="one NAT gateway per AZ, or a single cheaper one",
        examples=["single"],
    )
    kubernetes_version: KubernetesVersion = Field(
        default_factory=lambda: catalog.default_kubernetes_version("eks"),
        description="EKS minor version; default the catalog's, in standard support",
        examples=["1.35"],
    )
    extended_support: bool = Field(
        default=False,
        description="keep a version past its end of standard support, at EKS's extended-support "
        "price; off: EKS upgrades the cluster at the end of standard support",
        examples=[True],
    )
    activate_cost_allocation_tag: bool = Field(
        default=False,
        description="activate the `environment` cost-allocation tag from this stack; only the "
        "payer account can, and only once billing has seen the tag",
        examples=[True],
    )
    public_endpoint_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="CIDRs allowed to reach a public API endpoint; empty keeps it private",
        examples=[["203.0.113.0/24"]],
    )
    system_instance_type: str = Field(
        default="m6i.xlarge",
        description="CPU instance type of the system node group, which runs everything but "
        "the GPU workloads; one of the catalog's AWS CPU types",
        examples=["m6i.xlarge"],
    )
    system_nodes: Int = Field(
        default=2, ge=1, le=100, description="nodes in the system node group", examples=[2]
    )
    # A year by default: the usual audit window (Checkov CKV_AWS_338, NIST 800-53 AU-11).
    # Retention adds storage only (CloudWatch bills ingestion per GB whatever the retention).
    log_retention_days: Literal[30, 60, 90, 120, 150, 180, 365, 400, 545, 731] = Field(
        default=365,
        description="days CloudWatch keeps the EKS control-plane logs and the VPC flow logs "
        "(the budget enforcer's small logs are kept at least a year whatever this says)",
        examples=[90],
    )

    _system = field_validator("system_instance_type")(lambda v: system_instance_type("aws", v))
    # CreateVpc takes /16 to /28 (EC2 API reference, CreateVpc CidrBlock, 2026-12-01), and
    # components/aws/network.py cuts public subnets of /(n+4), which must stay >= /28.
    _vpc_size = field_validator("vpc_cidr")(
        lambda v: prefix_between(
            v, 16, 24, "AWS VPCs are /16 to /28 and the public subnets are a sixteenth of it"
        )
    )

    @model_validator(mode="after")
    def _zones_in_region(self) -> Aws:
        for zone in self.availability_zones or ():
            if not zone.startswith(self.region):
                raise ValueError(f"availability zone {echo(zone)} is not in region {self.region}")
        return self

    @property
    def zones(self) -> list[str]:
        return self.availability_zones or [f"{self.region}{z}" for z in "abc"]
