"""Network: a custom-mode VPC with one regional subnet and secondary ranges for pods and
services (VPC-native GKE), and Cloud NAT so private nodes can pull images."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.gcp import names
from components.naming import fit
from components.spec import EnvironmentSpec

PODS_RANGE = "pods"
SERVICES_RANGE = "services"


@dataclass(frozen=True)
class NetworkArgs:
    spec: EnvironmentSpec


class Network(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    subnet_id: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:gcp:Network", name, None, opts)
        cfg = args.spec.gcp
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        vpc = gcp.compute.Network(
            fit(f"{name}-vpc", names.COMPUTE),
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        subnet = gcp.compute.Subnetwork(
            fit(f"{name}-nodes", names.COMPUTE),
            network=vpc.id,
            region=cfg.region,
            ip_cidr_range=cfg.subnet_cidr,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(
                    range_name=PODS_RANGE, ip_cidr_range=cfg.pods_cidr
                ),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(
                    range_name=SERVICES_RANGE, ip_cidr_range=cfg.services_cidr
                ),
            ],
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_5_MIN", flow_sampling=0.5
            ),
            opts=child,
        )
        router = gcp.compute.Router(
            fit(f"{name}-router", names.COMPUTE), network=vpc.id, region=cfg.region, opts=child
        )
        gcp.compute.RouterNat(
            fit(f"{name}-nat", names.COMPUTE),
            router=router.name,
            region=cfg.region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=child,
        )
        self.network_id = vpc.id
        self.subnet_id = subnet.id
        self.register_outputs({"network_id": self.network_id})
