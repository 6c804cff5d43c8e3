"""The `gcp` block of the spec: the project, region and zones of a GCP environment and the
address ranges of its GKE cluster. Pure: no Pulumi import."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from components.spec.fields import Cidr, Int, PrivateCidr, SpecBlock, system_instance_type


class Gcp(SpecBlock):
    project: str = Field(
        pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$",
        description="the project id every resource is created in",
        examples=["acme-llm-prod"],
    )
    region: str = Field(
        pattern=r"^[a-z]+-[a-z]+[0-9]$",
        description="the region of the network, the GKE cluster and the bucket",
        examples=["us-central1"],
    )
    zones: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=4,
        description="GPU node zones; default <region>-a",
        examples=[["us-central1-a", "us-central1-c"]],
    )
    billing_account: str = Field(
        pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$",
        description="the billing account the budget is set on",
        examples=["01ABCD-23EF45-6789AB"],
    )
    subnet_cidr: PrivateCidr = Field(
        default="10.50.0.0/20",
        description="the nodes' subnet (RFC 1918)",
        examples=["10.50.0.0/20"],
    )
    pods_cidr: PrivateCidr = Field(
        default="10.64.0.0/14",
        description="the subnet's secondary range for pod addresses (RFC 1918)",
        examples=["10.64.0.0/14"],
    )
    services_cidr: PrivateCidr = Field(
        default="10.68.0.0/20",
        description="the subnet's secondary range for Service addresses (RFC 1918)",
        examples=["10.68.0.0/20"],
    )
    control_plane_cidr: Cidr = Field(
        default="172.16.0.0/28",
        description="the private control plane's /28",
        examples=["172.16.0.0/28"],
    )
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = Field(
        default="REGULAR",
        description="the GKE release channel, which picks and upgrades the cluster's version",
        examples=["STABLE"],
    )
    authorized_networks: list[Cidr] = Field(
        default_factory=list,
        description="CIDRs allowed to reach a public control-plane endpoint; empty: private",
        examples=[["203.0.113.0/24"]],
    )
    system_machine_type: str = Field(
        default="e2-standard-4",
        description="machine type of the system node pool, which runs everything but the "
        "GPU workloads; one of the catalog's GCP CPU types",
        examples=["e2-standard-4"],
    )
    system_nodes: Int = Field(
        default=1, ge=1, le=100, description="system nodes per zone", examples=[1]
    )

    _system = field_validator("system_machine_type")(lambda v: system_instance_type("gcp", v))

    @property
    def node_zones(self) -> list[str]:
        return self.zones or [f"{self.region}-a"]
