"""Vpn: HA VPN from the VPC to the on-prem gateway (hybrid): two tunnels with BGP on a
Cloud Router, so either tunnel carries the traffic when the other is down."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.gcp import names
from components.naming import fit
from components.spec import EnvironmentSpec, Vpn

CLOUD_ASN = 64514


@dataclass(frozen=True)
class VpnArgs:
    spec: EnvironmentSpec
    link: Vpn
    network_id: pulumi.Input[str]
    shared_key: pulumi.Input[str]


class SiteVpn(pulumi.ComponentResource):
    gateway_addresses: pulumi.Output[list[str]]

    def __init__(self, name: str, args: VpnArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:gcp:Vpn", name, None, opts)
        cfg = args.spec.gcp
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        gateway = gcp.compute.HaVpnGateway(
            fit(f"{name}-gateway", names.COMPUTE), network=args.network_id, region=cfg.region,
            opts=child,
        )
        peer = gcp.compute.ExternalVpnGateway(
            fit(f"{name}-peer", names.COMPUTE),
            redundancy_type="SINGLE_IP_INTERNALLY_REDUNDANT",
            interfaces=[
                gcp.compute.ExternalVpnGatewayInterfaceArgs(id=0, ip_address=args.link.peer_ip)
            ],
            opts=child,
        )
        router = gcp.compute.Router(
            fit(f"{name}-router", names.COMPUTE),
            network=args.network_id,
            region=cfg.region,
            bgp=gcp.compute.RouterBgpArgs(asn=CLOUD_ASN),
            opts=child,
        )
        key = pulumi.Output.secret(args.shared_key)
        for i in (0, 1):
            tunnel = gcp.compute.VPNTunnel(
                fit(f"{name}-tunnel-{i}", names.COMPUTE),
                region=cfg.region,
                vpn_gateway=gateway.id,
                vpn_gateway_interface=i,
                peer_external_gateway=peer.id,
                peer_external_gateway_interface=0,
                shared_secret=key,
                router=router.id,
                ike_version=2,
                opts=child,
            )
            interface = gcp.compute.RouterInterface(
                fit(f"{name}-interface-{i}", names.COMPUTE),
                router=router.name,
                region=cfg.region,
                ip_range=f"169.254.{i}.1/30",
                vpn_tunnel=tunnel.name,
                opts=child,
            )
            gcp.compute.RouterPeer(
                fit(f"{name}-bgp-{i}", names.COMPUTE),
                router=router.name,
                region=cfg.region,
                peer_ip_address=f"169.254.{i}.2",
                peer_asn=args.link.bgp_asn,
                interface=interface.name,
                opts=child,
            )
        self.gateway_addresses = gateway.vpn_interfaces.apply(
            lambda interfaces: [i.ip_address for i in interfaces or [] if i.ip_address]
        )
        self.register_outputs({"gateway_addresses": self.gateway_addresses})
