"""Monthly prices of GCP resources, by Pulumi type token, from their inputs
(components.pricing.price_resource looks them up here). Pure: no Pulumi import."""

from __future__ import annotations

from typing import Any

from components.pricing import LineItem, Pricer, always_on, nodes, per_month, stored


def _node_pool(type_: str, name: str, inputs: dict[str, Any]) -> list[LineItem]:
    config = inputs.get("nodeConfig") or {}
    zones = len(inputs.get("nodeLocations") or []) or 1
    return [
        nodes(
            type_,
            name,
            [config.get("machineType", "")],
            bool(config.get("spot")),
            config.get("resourceLabels") or {},
            float(inputs.get("initialNodeCount", 0)) * zones,
        )
    ]


PRICES: dict[str, Pricer] = {
    "gcp:kms/cryptoKey:CryptoKey": per_month("gcp-kms-key"),
    "gcp:container/cluster:Cluster": always_on("gcp-gke-cluster"),
    "gcp:container/nodePool:NodePool": _node_pool,
    "gcp:compute/routerNat:RouterNat": always_on("gcp-cloud-nat"),
    "gcp:storage/bucket:Bucket": stored("gcp-gcs-standard", "labels"),
    "gcp:compute/vPNTunnel:VPNTunnel": always_on("gcp-ha-vpn-tunnel"),
    "gcp:compute/forwardingRule:ForwardingRule": always_on("gcp-forwarding-rule"),
}
