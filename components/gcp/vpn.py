"""Vpn: HA VPN from the VPC to the on-prem gateway (hybrid): two tunnels with BGP on a
Cloud Router, so either tunnel carries the traffic when the other is down."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.gcp import names
from components.gcp.args import VpnArgs
from components.naming import fit

CLOUD_ASN = 64514


def link_addresses(tunnel: int) -> tuple[str, str]:
    """The BGP link of one tunnel: the Cloud Router's side as a /30, and the peer's address
    in it."""
    return f"169.254.{tunnel}.1/30", f"169.254.{tunnel}.2"


class SiteVpn(pulumi.ComponentResource):
    gateway_addresses: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: VpnArgs,
        network_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llm-platform:gcp:Vpn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        gateway = gcp.compute.HaVpnGateway(
            fit(f"{name}-gateway", names.COMPUTE), network=network_id, region=args.region,
            opts=child,
        )
        peer = gcp.compute.ExternalVpnGateway(
            fit(f"{name}-peer", names.COMPUTE),
            redundancy_type="SINGLE_IP_INTERNALLY_REDUNDANT",
            interfaces=[gcp.compute.ExternalVpnGatewayInterfaceArgs(id=0, ip_address=args.peer_ip)],
            opts=child,
        )
        router = gcp.compute.Router(
            fit(f"{name}-router", names.COMPUTE),
            network=network_id,
            region=args.region,
            bgp=gcp.compute.RouterBgpArgs(asn=CLOUD_ASN),
            opts=child,
        )
        key = pulumi.Output.secret(args.shared_key)
        for i in (0, 1):
            self._tunnel(name, i, args, gateway, peer, router, key)
        self.gateway_addresses = gateway.vpn_interfaces.apply(
            lambda interfaces: [i.ip_address for i in interfaces or [] if i.ip_address]
        )
        self.register_outputs({"gateway_addresses": self.gateway_addresses})

    def _tunnel(
        self,
        name: str,
        i: int,
        args: VpnArgs,
        gateway: gcp.compute.HaVpnGateway,
        peer: gcp.compute.ExternalVpnGateway,
        router: gcp.compute.Router,
        key: pulumi.Output[str],
    ) -> None:
        """Tunnel `i` from gateway interface `i` to the peer, and its BGP session."""
        child = pulumi.ResourceOptions(parent=self)
        tunnel = gcp.compute.VPNTunnel(
            fit(f"{name}-tunnel-{i}", names.COMPUTE),
            region=args.region,
            vpn_gateway=gateway.id,
            vpn_gateway_interface=i,
            peer_external_gateway=peer.id,
            peer_external_gateway_interface=0,
            shared_secret=key,
            router=router.id,
            ike_version=2,
            opts=child,
        )
        ours, theirs = link_addresses(i)
        interface = gcp.compute.RouterInterface(
            fit(f"{name}-interface-{i}", names.COMPUTE),
            router=router.name,
            region=args.region,
            ip_range=ours,
            vpn_tunnel=tunnel.name,
            opts=child,
        )
        gcp.compute.RouterPeer(
            fit(f"{name}-bgp-{i}", names.COMPUTE),
            router=router.name,
            region=args.region,
            peer_ip_address=theirs,
            peer_asn=args.peer_asn,
            interface=interface.name,
            opts=child,
        )
