"""The cloud registry: each cloud is one package, and its provider SDK is an optional extra
(`pip install 'llm-platform[aws]'` ...) that the on-prem stacks never need."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import get_args

import pytest

from components import catalog, clouds, pricing
from components.spec import CloudName, EnvironmentSpec, SpecError, Topology, load_spec
from tests.conftest import CLI, ROOT, stack_spec

SDKS = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native")

# Installed as sitecustomize, so every Python process of the run (the CLI and the policy
# pack it starts) behaves as if no provider SDK were installed.
_BLOCKER = f"""
import sys
from importlib.abc import MetaPathFinder

class _NoCloudSdk(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {SDKS!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NoCloudSdk())
"""


def _plan_without_sdks(tmp_path: Path, stack: str) -> tuple[subprocess.CompletedProcess, Path]:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(_BLOCKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT)])}
    out = tmp_path / "out"
    proc = subprocess.run(
        [*CLI, "plan", "--stack", stack, "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc, out


@pytest.mark.parametrize("stack", ["local"])
def test_local_stack_plans_with_no_cloud_sdk_installed(tmp_path, stack):
    proc, out = _plan_without_sdks(tmp_path, stack)
    assert proc.returncode == 0, proc.stderr
    resources = json.loads((out / "plan.json").read_text())["resources"]
    deployments = {r["name"] for r in resources if r["type"] == "kubernetes:apps/v1:Deployment"}
    assert "local-assistant-server" in deployments
    assert not [r["type"] for r in resources if r["type"].startswith(("aws:", "gcp:", "azure"))]
    assert (out / "cost.json").exists() and (out / "policy.json").exists()


@pytest.mark.parametrize(("stack", "cloud"), [("aws", "aws"), ("hybrid", "aws")])
def test_a_cloud_stack_without_its_sdk_names_the_extra_to_install(tmp_path, stack, cloud):
    assert stack_spec(stack).get("hybrid", {}).get("cloud", stack) == cloud
    proc, out = _plan_without_sdks(tmp_path, stack)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f"error: stack '{stack}': this environment runs on {cloud}, whose provider SDK "
        f"pulumi_{cloud} is not installed; run: pip install 'llm-platform[{cloud}]'"
    ]
    assert not out.exists()


def test_the_pure_parts_import_no_provider_sdk():
    """The registry, the spec, pricing, the plan runner and the policy rules load every
    cloud's entry without its SDK, so a missing SDK only matters to its own stacks."""
    code = (
        "import sys\n"
        "from components import clouds, pricing, spec\n"
        "import components.plan.runner, components.plan.report, components.cli\n"
        "import policies.llm_platform_rules\n"
        "[clouds.get(n) for n in clouds.NAMES]\n"
        "spec.load_spec\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_each_registered_cloud_is_a_topology_and_a_spec_block():
    assert clouds.NAMES == ("aws", "gcp", "azure")
    assert get_args(CloudName) == clouds.NAMES
    assert get_args(Topology) == ("onprem", "aws", "gcp", "azure", "hybrid")
    for cloud in clouds.clouds():
        field = EnvironmentSpec.model_fields[cloud.name]
        assert field.annotation == cloud.block | None, cloud.name


def test_a_cloud_prices_only_its_own_types():
    for cloud in clouds.clouds():
        for table in (cloud.prices, cloud.policy.pool_max, cloud.policy.instance_types):
            strays = [t for t in table if not t.startswith(cloud.type_prefix)]
            assert not strays, (cloud.name, strays)
        assert all(t.startswith(cloud.type_prefix) for t in cloud.policy.taggable)


def test_price_resource_reaches_each_cloud_through_the_registry():
    """One node pool per cloud, priced from the catalog's rows, so a cloud whose prices
    the registry stopped reaching would cost nothing."""
    hours = 730
    cases = {
        ("aws:eks/nodeGroup:NodeGroup", "g6e.xlarge"): {
            "instanceTypes": ["g6e.xlarge"],
            "capacityType": "ON_DEMAND",
            "tags": {pricing.NODE_HOURS_TAG: str(hours)},
        },
        ("gcp:container/nodePool:NodePool", "g2-standard-4"): {
            "nodeConfig": {"machineType": "g2-standard-4", "resourceLabels": {}},
            "initialNodeCount": 1,
        },
        ("azure-native:containerservice:AgentPool", "Standard_NC24ads_A100_v4"): {
            "vmSize": "Standard_NC24ads_A100_v4",
            "count": 1,
            "tags": {},
        },
    }
    for (type_, instance), inputs in cases.items():
        (item,) = pricing.price_resource(type_, "pool", inputs)
        hourly = catalog.instances()[instance].on_demand_usd_per_hour
        assert item.monthly_usd == round(hours * hourly, 2), type_
        assert item.quantity == hours


def test_provider_sdks_are_extras_and_the_test_extra_installs_them_all():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    extras = project["optional-dependencies"]
    for cloud in clouds.clouds():
        dist = cloud.sdk.replace("_", "-")
        assert dist not in core
        assert [d for d in extras[cloud.name] if d.startswith(dist)], cloud.name
    assert extras["all"] == [f"llm-platform[{','.join(clouds.NAMES)}]"]
    assert any(d.startswith("llm-platform[") and "all" in d for d in extras["test"])


@pytest.mark.parametrize("name", clouds.NAMES)
def test_every_field_of_a_cloud_block_is_described_with_an_example_that_validates(name):
    block = clouds.get(name).block
    example = {}
    for field_name, info in block.model_fields.items():
        assert info.description, f"{name}.{field_name}"
        assert info.examples, f"{name}.{field_name}"
        example[field_name] = info.examples[0]
    # All the examples together make a valid block, which keeps them as given.
    dumped = block.model_validate(example).model_dump()
    assert {k: dumped[k] for k in example} == example


@pytest.mark.parametrize(
    ("stack", "field", "value", "problem"),
    [
        ("gcp", "extra_instance_types", ["g2-standard-4"],
         "gpu_pools[0].extra_instance_types: only AWS node groups take several instance types; "
         "a gcp node pool has one machine type"),
        ("aws", "spot_max_usd_per_hour", 2.5,
         "gpu_pools[1].spot_max_usd_per_hour: only for an Azure spot pool"),
    ],
)
def test_a_pool_setting_only_one_cloud_takes_is_refused_elsewhere(stack, field, value, problem):
    """The registry's capability flags (several_instance_types, spot_bid) name the clouds
    that take the setting."""
    spec = copy.deepcopy(stack_spec(stack))
    index = 0 if field == "extra_instance_types" else 1
    spec["gpu_pools"][index][field] = value
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert f"llm-platform:spec.{problem}" in err.value.problems
