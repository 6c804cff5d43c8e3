"""`plan --export arm` (components/plan/arm.py): every azure-native type of the example plans
maps to an ARM type or is listed without a twin, the API versions are the SDK's own, the body
follows ARM's layout, and Checkov's `arm` framework reads every exported resource."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_cli
from test_names import _base

from components.plan import arm
from components.plan.runner import run_program

SDK = next((ROOT / ".venv" / "lib").glob("python3*/site-packages/pulumi_azure_native"))
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@dataclass
class Rec:
    """A planned resource as the export reads it (the fields of runner.Recorded it uses)."""

    type: str
    name: str
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def urn(self) -> str:
        return f"urn:pulumi:s::p::{self.type}::{self.name}"


def _sdk_api_version(token: str) -> str:
    """The default module's API version as the installed SDK states it: the docstring of the
    class decorated with the token says "Uses Azure REST API version X"."""
    module = token.split(":")[1]
    for path in sorted((SDK / module).glob("*.py")):
        text = path.read_text()
        at = text.find(f'@pulumi.type_token("{token}")')
        if at >= 0:
            found = re.search(r"Uses Azure REST API version (\d{4}-\d\d-\d\d(?:-preview)?)", text[at:])
            assert found, f"{path}: no API version after {token}"
            return found.group(1)
    raise AssertionError(f"{token}: no class in {SDK / module}")


@pytest.mark.parametrize("token", sorted(arm.ARM_TYPES))
def test_api_version_is_the_installed_sdks(token):
    assert arm.ARM_TYPES[token].api_version == _sdk_api_version(token)


def test_the_sdk_reader_sees_a_wrong_version():
    # The check above is only as good as its reader: it must find a version, and a real one.
    assert _sdk_api_version("azure-native:containerservice:AgentPool") == "2025-09-01"
    assert _sdk_api_version("azure-native:monitor:ActionGroup") == "2024-10-01-preview"


@pytest.fixture(scope="module")
def azure_export(planned) -> Path:
    """The azure example planned through the real CLI with `--export arm` (conftest's shared
    plans export each cloud stack)."""
    return planned["azure"].out


@pytest.fixture(scope="module")
def hybrid_azure_records() -> list:
    return run_program("hybrid", _base("hybrid-azure"), ROOT)


def _azure_types(types) -> set[str]:
    return {t for t in types if t.startswith(arm.PREFIX)}


def test_every_azure_type_of_the_examples_maps_or_is_listed(azure_export, hybrid_azure_records):
    plan = json.loads((azure_export / "plan.json").read_text())
    for types in ({r["type"] for r in plan["resources"]},
                  {r.type for r in hybrid_azure_records}):
        azure = _azure_types(types)
        assert len(azure) >= 19  # the check sees the plan's azure resources at all
        assert arm.unmapped(azure) == []
        assert azure <= set(arm.ARM_TYPES) | set(arm.NO_TWIN)
    assert not set(arm.ARM_TYPES) & set(arm.NO_TWIN)
    left_out = arm.export(hybrid_azure_records).left_out
    assert [u.rsplit("$", 1)[1].split("::")[0] for u, _ in left_out] == [
        "azure-native:resources:ResourceGroup"]


def test_the_export_holds_each_mapped_resource_once(azure_export):
    plan = json.loads((azure_export / "plan.json").read_text())
    template = json.loads((azure_export / arm.FILENAME).read_text())
    mapped = [r for r in plan["resources"] if r["type"] in arm.ARM_TYPES]
    urns = [r["metadata"]["pulumi:urn"] for r in template["resources"]]
    assert sorted(urns) == sorted(r["urn"] for r in mapped)
    left = [r for r in plan["resources"] if r["type"] in arm.NO_TWIN]
    assert len(left) == 1 and left[0]["urn"] not in urns
    for res in template["resources"]:
        assert res["type"] == arm.ARM_TYPES[_token(res)].arm_type
        assert res["apiVersion"] == arm.ARM_TYPES[_token(res)].api_version


def _token(res: dict) -> str:
    return res["metadata"]["pulumi:urn"].split("$")[-1].split("::")[0]


def test_a_new_azure_type_fails_the_export():
    records = [Rec("azure-native:cdn:Profile", "edge", {"location": "eastus"}),
               Rec("aws:s3:Bucket", "b"), Rec("azure-native:network:VirtualNetwork", "v")]
    assert arm.unmapped(r.type for r in records) == ["azure-native:cdn:Profile"]
    with pytest.raises(arm.ArmExportError, match="azure-native:cdn:Profile"):
        arm.export(records)


def test_the_cli_refuses_an_unknown_export_format(tmp_path):
    proc = run_cli("plan", "--stack", "azure", "--out", str(tmp_path / "o"), "--export", "nope")
    assert proc.returncode == 2 and "nope" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_body_layout_renames_and_identity_map():
    account = Rec("azure-native:storage:StorageAccount", "acct", {
        "accountName": "llmacct", "resourceGroupName": "rg", "location": "eastus",
        "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "tags": {"a": "b"},
        "enableHttpsTrafficOnly": True, "networkRuleSet": {"defaultAction": "Deny"},
        "minimumTlsVersion": "TLS1_2"})
    cluster = Rec("azure-native:containerservice:ManagedCluster", "aks", {
        "resourceName": "llm", "location": "eastus",
        "identity": {"type": "UserAssigned", "userAssignedIdentities": ["/id/a", "/id/b"]},
        "enableRBAC": True})
    vault = Rec("azure-native:keyvault:Vault", "kv", {
        "vaultName": "kv1", "location": "eastus", "properties": {"enablePurgeProtection": True}})
    got = {r["name"]: r for r in arm.export([account, cluster, vault]).template["resources"]}
    assert got["llmacct"] == {
        "type": "Microsoft.Storage/storageAccounts", "apiVersion": "2024-01-01",
        "name": "llmacct", "location": "eastus", "sku": {"name": "Standard_LRS"},
        "kind": "StorageV2", "tags": {"a": "b"},
        "properties": {"supportsHttpsTrafficOnly": True,
                       "networkAcls": {"defaultAction": "Deny"}, "minimumTlsVersion": "TLS1_2"},
        "metadata": {"pulumi:urn": account.urn}}
    assert got["llm"]["identity"]["userAssignedIdentities"] == {"/id/a": {}, "/id/b": {}}
    assert got["llm"]["properties"] == {"enableRBAC": True}
    assert got["kv1"]["properties"] == {"enablePurgeProtection": True}


def test_children_are_flat_with_parent_names():
    pool = Rec("azure-native:containerservice:AgentPool", "gpu", {
        "agentPoolName": "a100", "resourceName": "llm", "vmSize": "x", "tags": {"t": "1"}})
    account = Rec("azure-native:storage:StorageAccount", "acct", {"accountName": "llmacct"})
    box = Rec("azure-native:storage:BlobContainer", "c", {"containerName": "models"})
    ids = [Rec("azure-native:managedidentity:UserAssignedIdentity", n) for n in ("r", "w")]
    fic = Rec("azure-native:managedidentity:FederatedIdentityCredential", "fic", {"subject": "s"})
    done = arm.export([pool, account, box, *ids, fic])
    got = {r["metadata"]["pulumi:urn"]: r for r in done.template["resources"]}
    assert got[pool.urn]["name"] == "llm/a100"  # the parent named by its input
    assert got[pool.urn]["properties"] == {"vmSize": "x", "tags": {"t": "1"}}
    assert got[box.urn]["name"] == "llmacct/default/models"  # the only account
    assert got[box.urn]["type"] == "Microsoft.Storage/storageAccounts/blobServices/containers"
    assert got[fic.urn]["name"] == f"{arm.UNRESOLVED}/fic"  # two identities: not guessed
    assert done.unresolved == [fic.urn]


def test_gateway_sub_resources_nest_their_properties():
    gw = Rec("azure-native:network:VirtualNetworkGateway", "gw", {
        "location": "eastus", "sku": {"name": "VpnGw1"},
        "ipConfigurations": [{"name": "default", "subnet": {"id": "s"}}]})
    res = arm.export([gw]).template["resources"][0]
    assert "sku" not in res and res["properties"]["sku"] == {"name": "VpnGw1"}
    assert res["properties"]["ipConfigurations"] == [
        {"name": "default", "properties": {"subnet": {"id": "s"}}}]


def _checkov(files: list[Path]) -> dict:
    args = [str(CHECKOV)]
    for f in files:
        args += ["-f", str(f)]
    proc = subprocess.run(
        [*args, "--framework", "arm", "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"})
    return json.loads(proc.stdout)


def test_checkov_reads_every_exported_resource(azure_export, hybrid_azure_records, tmp_path):
    hybrid = arm.write(hybrid_azure_records, tmp_path)
    files = [azure_export / arm.FILENAME, tmp_path / arm.FILENAME]
    exported = [json.loads(f.read_text())["resources"] for f in files]
    report = _checkov(files)
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] == sum(len(r) for r in exported) > 40
    assert len(exported[1]) == len(hybrid.template["resources"])
    ids = {f"{r['type']}.{r['name']}" for rs in exported for r in rs}
    results = report["results"]
    checked = {c["resource"] for kind in ("passed_checks", "failed_checks")
               for c in results[kind]}
    assert checked and checked <= ids
    # The checks that fire on AKS, Key Vault and Storage see those resources at all.
    assert {r["type"] for rs in exported for r in rs
            if f"{r['type']}.{r['name']}" in checked} >= {
        "Microsoft.ContainerService/managedClusters", "Microsoft.KeyVault/vaults",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.ContainerService/managedClusters/agentPools"}
