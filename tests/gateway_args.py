"""GatewayArgs for the tests of the gateway's generated files (config.yaml, gateway.json).

Those files read the routes, the teams, the ceiling, the environment label and the request
log's retention and redaction; the rest is a plausible stack's and a test changes it by name.
"""

from __future__ import annotations

import dataclasses

from components.kubernetes.gateway.args import (
    CnpgDatabase,
    GatewayArgs,
    RequestLog,
    Route,
    Team,
)


def gateway_args_for(
    routes: tuple[Route, ...],
    teams: tuple[Team, ...],
    ceiling_usd: float,
    environment: str = "aws",
    **changes: object,
) -> GatewayArgs:
    args = GatewayArgs(
        namespace="llm",
        labels={"llm-platform.dev/environment": environment},
        image="ghcr.io/llm-platform/gateway:0.1.0",
        redis_image="redis:7.2.16",
        replicas_min=2,
        replicas_max=4,
        master_key_secret="gatewayMasterKey",
        database=CnpgDatabase(instances=2, storage_gib=10, storage_class=None),
        ceiling_usd=ceiling_usd,
        teams=teams,
        routes=routes,
        request_log=RequestLog("request-logs", 20, None, 30, False),
        prometheus_namespace="monitoring",
    )
    return dataclasses.replace(args, **changes)
