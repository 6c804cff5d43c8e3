"""`plan --export arm`: the plan's azure-native resources as an ARM template, for Checkov's
`arm` framework and other scanners that read ARM (pure: no Pulumi import).

azure-native is generated from the ARM REST specs, so a resource's inputs are its ARM body in
camelCase: a few keys at the top (`location`, `tags`, `sku`, ...), everything else under
`properties` (the provider flattens `x-ms-client-flatten` bodies into inputs and puts them back
under `properties` on the wire). What this module needs beyond that, per token, is in ARM_TYPES
with its source; research/checkov_arm.md and research/arm_types.yaml on branch i19-arm hold the
longer notes.

Template shape (Checkov 3.3.30, research/checkov_arm.md §1): the file ends in `.json` and holds
both `$schema` and `contentVersion` (else Checkov silently reads 0 resources,
checkov/arm/parser/parser.py:64-65); every resource needs `type` and `name`; children are
written flat with their full type and a `parent/child` name, since checks match the full type
only (checkov/arm/base_registry.py:13-16).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from components import clouds, scan

FILENAME = "arm-template.json"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
PREFIX = "azure-native:"
# The parent segment of a child's ARM name when the offline plan cannot say which parent it is
# (two resources of the parent's type and no input naming one): a visible gap, not a guess.
UNRESOLVED = "unresolved-parent"


class Record(Protocol):
    """What the export reads of a planned resource (components/plan/runner.py Recorded)."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]


@dataclass(frozen=True)
class ArmType:
    """How one azure-native token becomes an ARM template resource.

    api_version: the default module's "Uses Azure REST API version X" (pulumi-azure-native
    3.29.0 SDK docstring; tests/test_arm_export.py reads it back from .venv). arm_type: the
    provider's token -> REST path map (reports/tokenPaths.json, research/arm_types.yaml).
    name_input: the URL path input that is the resource's own name; parent: the token of the
    parent and the input naming it; middle: fixed segments between parent and child names.
    """

    arm_type: str
    api_version: str
    name_input: str = ""
    top_level: tuple[str, ...] = ("location", "tags")
    path_inputs: tuple[str, ...] = ("resourceGroupName",)
    parent: tuple[str, str] | None = None
    middle: tuple[str, ...] = ()
    renames: Mapping[str, str] = field(default_factory=dict)
    # Key Vault's Vault and Key are not flattened: their `properties` input IS ARM's.
    properties_input: bool = False
    # Properties holding sub-resources the SDK flattens too: ARM keeps `id` and `name` at the
    # item's top and the rest under the item's own `properties`.
    sub_resources: tuple[str, ...] = ()


_CS = "azure-native:containerservice:"
_MI = "azure-native:managedidentity:"
_ST = "azure-native:storage:"
_NET = "azure-native:network:"
_KV = "azure-native:keyvault:"

ARM_TYPES: dict[str, ArmType] = {
    f"{_CS}ManagedCluster": ArmType(
        "Microsoft.ContainerService/managedClusters", "2025-09-01", "resourceName",
        ("location", "tags", "sku", "identity", "extendedLocation", "kind")),
    # Every pool input, `tags` included, is a pool property (AgentPoolsCreate_Spot.json example
    # in azure-rest-api-specs 2025-09-01, research/arm_types.yaml).
    f"{_CS}AgentPool": ArmType(
        "Microsoft.ContainerService/managedClusters/agentPools", "2025-09-01", "agentPoolName",
        (), parent=(f"{_CS}ManagedCluster", "resourceName")),
    # Extension resources: the REST path's {scope} is the template's top-level `scope`.
    "azure-native:authorization:RoleAssignment": ArmType(
        "Microsoft.Authorization/roleAssignments", "2022-04-01", "roleAssignmentName",
        ("scope",), ()),
    "azure-native:authorization:RoleDefinition": ArmType(
        "Microsoft.Authorization/roleDefinitions", "2022-05-01-preview", "roleDefinitionId",
        ("scope",), ()),
    f"{_MI}UserAssignedIdentity": ArmType(
        "Microsoft.ManagedIdentity/userAssignedIdentities", "2023-01-31", "resourceName"),
    f"{_MI}FederatedIdentityCredential": ArmType(
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        "2023-01-31", "federatedIdentityCredentialResourceName", (),
        parent=(f"{_MI}UserAssignedIdentity", "resourceName")),
    # The SDK names two properties after their x-ms-client-name; the wire (and Checkov's
    # CKV_AZURE_3/_35/_36) uses the spec's names (storage.json 2025-01-01 x-ms-client-name).
    f"{_ST}StorageAccount": ArmType(
        "Microsoft.Storage/storageAccounts", "2024-01-01", "accountName",
        ("location", "tags", "sku", "kind", "identity", "extendedLocation"),
        renames={"enableHttpsTrafficOnly": "supportsHttpsTrafficOnly",
                 "networkRuleSet": "networkAcls"}),
    f"{_ST}BlobServiceProperties": ArmType(
        "Microsoft.Storage/storageAccounts/blobServices", "2024-01-01", "blobServicesName", (),
        parent=(f"{_ST}StorageAccount", "accountName")),
    f"{_ST}BlobContainer": ArmType(
        "Microsoft.Storage/storageAccounts/blobServices/containers", "2024-01-01",
        "containerName", (), parent=(f"{_ST}StorageAccount", "accountName"), middle=("default",)),
    f"{_ST}ManagementPolicy": ArmType(
        "Microsoft.Storage/storageAccounts/managementPolicies", "2024-01-01",
        "managementPolicyName", (), parent=(f"{_ST}StorageAccount", "accountName")),
    "azure-native:consumption:Budget": ArmType(
        "Microsoft.Consumption/budgets", "2024-08-01", "budgetName", ("scope",), ()),
    "azure-native:monitor:ActionGroup": ArmType(
        "Microsoft.Insights/actionGroups", "2024-10-01-preview", "actionGroupName",
        ("location", "tags", "identity")),
    f"{_KV}Vault": ArmType(
        "Microsoft.KeyVault/vaults", "2024-11-01", "vaultName", properties_input=True),
    f"{_KV}Key": ArmType(
        "Microsoft.KeyVault/vaults/keys", "2024-11-01", "keyName", ("tags",),
        parent=(f"{_KV}Vault", "vaultName"), properties_input=True),
    f"{_NET}VirtualNetwork": ArmType(
        "Microsoft.Network/virtualNetworks", "2024-05-01", "virtualNetworkName",
        ("location", "tags", "extendedLocation")),
    f"{_NET}Subnet": ArmType(
        "Microsoft.Network/virtualNetworks/subnets", "2024-05-01", "subnetName", (),
        parent=(f"{_NET}VirtualNetwork", "virtualNetworkName")),
    f"{_NET}NatGateway": ArmType(
        "Microsoft.Network/natGateways", "2024-05-01", "natGatewayName",
        ("location", "tags", "sku", "zones")),
    f"{_NET}PublicIPAddress": ArmType(
        "Microsoft.Network/publicIPAddresses", "2024-05-01", "publicIpAddressName",
        ("location", "tags", "sku", "zones", "extendedLocation")),
    # The hybrid VPN on Azure. A gateway's `sku` is a property, not top level, and its
    # ipConfigurations are sub-resources (learn.microsoft.com/azure/templates/microsoft.network/
    # 2023-09-01/virtualnetworkgateways; the SDK's VirtualNetworkGatewayIPConfigurationArgs,
    # network/_inputs.py, takes them flat). A connection's type is Microsoft.Network/connections
    # (learn.microsoft.com/azure/templates/microsoft.network/2016-12-01/connections).
    f"{_NET}VirtualNetworkGateway": ArmType(
        "Microsoft.Network/virtualNetworkGateways", "2024-05-01", "virtualNetworkGatewayName",
        ("location", "tags", "extendedLocation"), sub_resources=("ipConfigurations",)),
    f"{_NET}LocalNetworkGateway": ArmType(
        "Microsoft.Network/localNetworkGateways", "2024-05-01", "localNetworkGatewayName"),
    f"{_NET}VirtualNetworkGatewayConnection": ArmType(
        "Microsoft.Network/connections", "2024-05-01", "virtualNetworkGatewayConnectionName",
        sub_resources=("virtualNetworkGateway1", "virtualNetworkGateway2",
                       "localNetworkGateway2")),
}

# azure-native tokens the export knows and leaves out, with the reason (listed in the report).
NO_TWIN: dict[str, str] = {
    # Its REST path is /subscriptions/{id}/resourcegroups/{name}: a subscription-scope
    # resource, which a resource-group-scope template cannot hold.
    "azure-native:resources:ResourceGroup": "subscription scope: not part of a "
    "resource-group-scope ARM template",
}


class ArmExportError(ValueError):
    """The plan has azure-native tokens the export neither maps nor lists as without twin."""


@dataclass(frozen=True)
class ArmExport:
    template: dict[str, Any]
    left_out: list[tuple[str, str]]  # (urn, reason)
    unresolved: list[str]  # urns of children whose parent the offline plan cannot name


def unmapped(types: Iterable[str]) -> list[str]:
    return sorted({t for t in types if t.startswith(PREFIX)} - set(ARM_TYPES) - set(NO_TWIN))


def export(records: Iterable[Record]) -> ArmExport:
    """The ARM template of `records`' azure-native resources; raises on an unknown token, so a
    new resource type cannot slip past the scanners unexported."""
    azure = [r for r in records if r.type.startswith(PREFIX)]
    missing = unmapped(r.type for r in azure)
    if missing:
        raise ArmExportError(
            "no ARM mapping for " + ", ".join(missing)
            + " (components/plan/arm.py ARM_TYPES, or NO_TWIN with a reason)")
    names = {r.urn: _own_name(r, ARM_TYPES[r.type]) for r in azure if r.type in ARM_TYPES}
    resources, unresolved = [], []
    for rec in azure:
        spec = ARM_TYPES.get(rec.type)
        if spec is None:
            continue
        name = names[rec.urn]
        if spec.parent is not None:
            parent = _parent_name(rec, spec.parent, azure, names)
            if parent == UNRESOLVED:
                unresolved.append(rec.urn)
            name = "/".join([parent, *spec.middle, name])
        resources.append(_resource(rec, spec, name))
    left_out = [(r.urn, NO_TWIN[r.type]) for r in azure if r.type in NO_TWIN]
    template = {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": resources}
    return ArmExport(template, left_out, unresolved)


def _own_name(rec: Record, spec: ArmType) -> str:
    # Without its name input, azure-native autonames from the logical name (plus a suffix
    # at deploy time), so the logical name is the closest offline stand-in.
    value = rec.inputs.get(spec.name_input)
    return str(value) if value else rec.name


def _parent_name(
    rec: Record, parent: tuple[str, str], azure: list[Record], names: dict[str, str]
) -> str:
    """The parent's ARM name: the input naming it when the plan knows it; else the only
    resource of the parent's type. The program passes `parent.name`, an output the offline
    plan does not know, so the input is usually absent; with two candidates it stays open."""
    token, key = parent
    if rec.inputs.get(key):
        return str(rec.inputs[key])
    candidates = [r for r in azure if r.type == token]
    return names[candidates[0].urn] if len(candidates) == 1 else UNRESOLVED


def _resource(rec: Record, spec: ArmType, name: str) -> dict[str, Any]:
    top: dict[str, Any] = {}
    props: dict[str, Any] = {}
    for key, value in rec.inputs.items():
        if key == spec.name_input or key in spec.path_inputs or (
            spec.parent is not None and key == spec.parent[1]
        ):
            continue  # URL path parameters, not part of the body
        if key in spec.top_level:
            top[key] = _identity(value) if key == "identity" else value
        elif spec.properties_input and key == "properties":
            props.update(value)
        elif key in spec.sub_resources:
            props[key] = _sub_resource(value)
        else:
            props[spec.renames.get(key, key)] = value
    out: dict[str, Any] = {"type": spec.arm_type, "apiVersion": spec.api_version, "name": name}
    out.update(top)
    if props:
        out["properties"] = props
    out["metadata"] = {"pulumi:urn": rec.urn}
    skips = scan.matching(rec.type, rec.name, clouds.scanner_skips())
    if skips:
        out["metadata"]["checkov"] = scan.arm_comments(skips)
    return out



def _sub_resource(value: Any) -> Any:
    if isinstance(value, list):
        return [_sub_resource(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: v for k, v in value.items() if k in ("id", "name")}
    rest = {k: v for k, v in value.items() if k not in ("id", "name")}
    return {**out, "properties": rest} if rest else out


def _identity(value: Any) -> Any:
    """Pulumi takes user-assigned identities as a list of ids; ARM's body is a map keyed by
    id (the provider's IsStringSet; components/azure/mocks.py managed_cluster_output)."""
    if isinstance(value, dict) and isinstance(value.get("userAssignedIdentities"), list):
        return {**value, "userAssignedIdentities": {i: {} for i in value["userAssignedIdentities"]}}
    return value


def write(records: Iterable[Record], out_dir: Any) -> ArmExport:
    """Writes FILENAME into `out_dir` (a pathlib.Path), one key per line: Checkov reads the
    file with line numbers (checkov/arm/context_parser.py:105-118), so its reports point at
    a resource's own lines."""
    import json

    result = export(records)
    (out_dir / FILENAME).write_text(json.dumps(result.template, indent=2) + "\n")
    return result
