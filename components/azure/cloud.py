"""Azure in the cloud registry (components/clouds.py). Pure: no provider SDK import."""

from __future__ import annotations

from components.azure import checks, mocks, policy_types, prices, scanner
from components.azure.spec import Azure
from components.clouds import ApiEndpoint, Cloud, ManagedKubernetes

CLOUD = Cloud(
    name="azure",
    label="Azure",
    sdk="pulumi_azure_native",
    type_prefix="azure-native:",
    foundation="components.azure.foundation:AzureFoundation",
    block=Azure,
    cidrs=lambda block: [("vnet_cidr", block.vnet_cidr)],
    name_problems=checks.name_problems,
    spot_bid=True,
    kubernetes=ManagedKubernetes(
        platform="aks",
        label="AKS",
        past_standard_note=" (AKS long-term support needs the Premium tier and does not "
        "support the Key Vault KMS encryption this cluster uses)",
    ),
    api_endpoint=ApiEndpoint(cluster="AKS", public_cidrs_field=None),
    prices=prices.PRICES,
    computed=mocks.computed,
    invoke_results=mocks.INVOKE_RESULTS,
    as_output=mocks.AS_OUTPUT,
    policy=policy_types.POLICY_TYPES,
    scanner_skips=scanner.SKIPS,
)
