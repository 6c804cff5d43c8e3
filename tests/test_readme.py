"""The README is the user's manual: its first lines and its spec table must match the code."""

from __future__ import annotations

import re

from conftest import ROOT
from pydantic import BaseModel

from components.spec import Architecture, EnvironmentSpec, nested_model

README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    head = README.splitlines()[:6]
    assert any(line.startswith("make plan") for line in head)
    assert any(line.startswith("make test") for line in head)


def _fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = nested_model(info.annotation)
        is_list = str(info.annotation).startswith("list[")
        if nested is Architecture:
            out.append(path)  # documented as one row listing its keys
        elif nested is not None:
            out.extend(_fields(nested, f"{path}[]." if is_list else f"{path}."))
        else:
            out.append(path)
    return out


def test_every_spec_field_is_documented():
    documented = set(re.findall(r"^\| `([^`]+)` \|", README, flags=re.M))
    missing = [f for f in _fields(EnvironmentSpec) if f not in documented]
    assert not missing, f"README spec table lacks: {missing}"
    for key in Architecture.model_fields:
        assert f"`models[].architecture.{key}`" in README, key


def test_topology_table_shows_each_stacks_planned_monthly_cost(planned):
    table = README[README.index("## Topologies"):README.index("## The environment spec")]
    for stack, result in planned.items():
        rows = [line for line in table.splitlines() if line.startswith("| `")]
        row = next(line for line in rows if f"`{stack}`" in line.split("|")[1])
        assert f"${result.cost['monthly_usd']:,.2f}" in row, (stack, row)
