"""How the gateway is reached and what it may reach: its Service, optional Ingress,
ServiceMonitor and the NetworkPolicies of the gateway and of Redis. Pure builders: they
return Pulumi Args or dicts."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import conventions
from components.engines import HTTP_PORT
from components.kubernetes import pods
from components.kubernetes.gateway import redis
from components.kubernetes.gateway.args import CnpgDatabase, GatewayArgs, Ingress
from components.kubernetes.gateway.deployment import COMPONENT, DB_CLUSTER, NAME, PORT
from components.kubernetes.model_server.pod import COMPONENT as MODEL_SERVER

# The label CloudNativePG puts on every instance pod of a Cluster (cloudnative-pg
# pkg/utils/labels_annotations.go ClusterLabelName); its own network example selects the
# instances by it (docs/src/cncf-projects/securing_cloudnative-pg_network.md).
CNPG_CLUSTER_LABEL = "cnpg.io/cluster"
POSTGRES_PORT = 5432
# The addresses the hosted-API egress rule leaves out: RFC 1918 (the cluster's pods,
# services and nodes on every cloud and on-prem) and link-local (the clouds' instance
# metadata, whose node credentials a compromised gateway must not reach).
PRIVATE_CIDRS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")
METRICS_PATH = "/metrics/"

core = k8s.core.v1
net = k8s.networking.v1
meta = k8s.meta.v1


def gateway_pods() -> net.NetworkPolicyPeerArgs:
    """Every gateway pod (the Deployment's and the provisioning Job's)."""
    return net.NetworkPolicyPeerArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels={conventions.APP_COMPONENT: COMPONENT})
    )


def service_spec(selector: dict[str, str]) -> core.ServiceSpecArgs:
    return pods.http_service_spec(selector, PORT)


def service_monitor_spec(selector: dict[str, str], namespace: pulumi.Input[str]) -> dict:
    """LiteLLM serves Prometheus on /metrics/ of the API port, open when
    require_auth_for_metrics_endpoint is false (proxy/common_utils/callback_utils.py:402-405;
    /metrics answers 307 to /metrics/, research/litellm.md section 12). The job label is
    the Service's name, `llm-gateway`, which every gateway rule selects by."""
    return {
        "selector": {"matchLabels": selector},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [{"port": "http", "path": METRICS_PATH, "interval": "15s"}],
    }


def _port(port: int, protocol: str = "TCP") -> net.NetworkPolicyPortArgs:
    return net.NetworkPolicyPortArgs(port=port, protocol=protocol)


def _pods(labels: dict[str, str]) -> net.NetworkPolicyPeerArgs:
    return net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=labels))


def _ingress(args: GatewayArgs) -> list[net.NetworkPolicyIngressRuleArgs]:
    """Clients in the namespace and Prometheus; with an Ingress, the controller, whose
    namespace differs per installation, so any namespace (every request is authenticated)."""
    peers = [_pods({}), pods.prometheus_peer(args.prometheus_namespace)]
    if args.ingress is not None:
        peers.append(net.NetworkPolicyPeerArgs(namespace_selector=meta.LabelSelectorArgs()))
    return [net.NetworkPolicyIngressRuleArgs(from_=peers, ports=[_port(PORT)])]


def _database_egress(args: GatewayArgs) -> net.NetworkPolicyEgressRuleArgs:
    if isinstance(args.database, CnpgDatabase):
        return net.NetworkPolicyEgressRuleArgs(
            to=[_pods({CNPG_CLUSTER_LABEL: DB_CLUSTER})], ports=[_port(POSTGRES_PORT)]
        )
    # An existing database's address is in a secret URL, unknown here: the port only.
    return net.NetworkPolicyEgressRuleArgs(ports=[_port(POSTGRES_PORT)])


def _egress(args: GatewayArgs) -> list[net.NetworkPolicyEgressRuleArgs]:
    rules = [
        net.NetworkPolicyEgressRuleArgs(
            to=[_pods({conventions.APP_COMPONENT: MODEL_SERVER})], ports=[_port(HTTP_PORT)]
        ),
        _database_egress(args),
        net.NetworkPolicyEgressRuleArgs(
            to=[_pods(redis.selector())], ports=[_port(redis.PORT)]
        ),
        # DNS to any address: node-local caches and cloud resolvers answer from outside
        # kube-system (GKE NodeLocal DNSCache, link-local addresses).
        net.NetworkPolicyEgressRuleArgs(ports=[_port(53, "UDP"), _port(53, "TCP")]),
    ]
    if any(r.fallback is not None for r in args.routes):
        # A plain NetworkPolicy cannot name hosts (no FQDN peer in networking.k8s.io/v1):
        # HTTPS to the internet, never into the cluster or the private network.
        rules.append(
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        ip_block=net.IPBlockArgs(cidr="0.0.0.0/0", except_=list(PRIVATE_CIDRS))
                    )
                ],
                ports=[_port(443)],
            )
        )
    return rules


def network_policy_spec(args: GatewayArgs) -> net.NetworkPolicySpecArgs:
    return net.NetworkPolicySpecArgs(
        pod_selector=gateway_pods().pod_selector,
        policy_types=["Ingress", "Egress"],
        ingress=_ingress(args),
        egress=_egress(args),
    )


def redis_network_policy_spec() -> net.NetworkPolicySpecArgs:
    """Only gateway pods reach Redis; Redis reaches nothing."""
    return net.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=redis.selector()),
        policy_types=["Ingress", "Egress"],
        ingress=[
            net.NetworkPolicyIngressRuleArgs(from_=[gateway_pods()], ports=[_port(redis.PORT)])
        ],
    )


def ingress_spec(ingress: Ingress) -> net.IngressSpecArgs:
    """TLS ends at the controller with the certificate of the named Secret."""
    backend = net.IngressBackendArgs(
        service=net.IngressServiceBackendArgs(
            name=NAME, port=net.ServiceBackendPortArgs(name="http")
        )
    )
    return net.IngressSpecArgs(
        ingress_class_name=ingress.class_name,
        tls=[net.IngressTLSArgs(hosts=[ingress.host], secret_name=ingress.tls_secret)],
        rules=[
            net.IngressRuleArgs(
                host=ingress.host,
                http=net.HTTPIngressRuleValueArgs(
                    paths=[net.HTTPIngressPathArgs(path="/", path_type="Prefix", backend=backend)]
                ),
            )
        ],
    )
