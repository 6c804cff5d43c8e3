"""The spec documents itself: every field has a description and an example, and the JSON
Schemas and the README's field reference are generated from the model and up to date."""

from __future__ import annotations

import copy
import json
import shutil

import jsonschema
import pytest
import yaml
from conftest import ROOT

from components.spec import docs

STACKS = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))


def test_generated_files_are_current():
    stale = [name for name, text in docs.generated().items() if (ROOT / name).read_text() != text]
    assert not stale, f"{stale} are stale: run `make docs` (python -m components.spec.docs)"


def test_check_names_a_stale_file(tmp_path):
    for name in docs.generated():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    assert docs.stale(tmp_path) == []
    readme = (tmp_path / "README.md").read_text()
    # A hand edit inside the generated table is what drifted before: caught.
    (tmp_path / "README.md").write_text(readme.replace("| `topology` |", "| `topologie` |"))
    schema = tmp_path / docs.SCHEMA_FILE
    schema.write_text(schema.read_text().replace('"gpu_pools"', '"gpu_pool"', 1))
    assert docs.stale(tmp_path) == [docs.SCHEMA_FILE, "README.md"]


def _documented_fields():
    fields = docs.fields()
    # The cloud blocks live in their packages now; the walk must still reach them.
    assert {"Aws", "Gcp", "Azure"} <= {d.owner.__name__ for d in fields}
    return fields


def test_every_field_has_a_description_and_an_example():
    undocumented = [d.path for d in _documented_fields() if not d.info.description]
    assert not undocumented, f"fields without a description: {undocumented}"
    no_example = [d.path for d in _documented_fields() if not d.info.examples]
    assert not no_example, f"fields without an example: {no_example}"


def test_every_example_passes_the_fields_schema():
    schema = docs.spec_schema()
    wrong = []
    for d in _documented_fields():
        owner = schema if d.owner.__name__ == "EnvironmentSpec" else schema["$defs"][d.owner.__name__]
        prop = {**owner["properties"][d.name], "$defs": schema["$defs"]}
        for example in d.info.examples or []:
            errors = list(jsonschema.Draft202012Validator(prop).iter_errors(example))
            if errors:
                wrong.append(f"{d.path}: {example!r}: {errors[0].message}")
    assert not wrong, wrong


def test_reference_table_rows():
    rows = {
        line.split(" | ")[0].removeprefix("| "): line.split(" | ")
        for line in docs.reference_table().splitlines()[2:]
    }
    # The hand-written table still said "this release: onprem"; the generated one lists
    # every topology the model accepts.
    assert rows["`topology`"][1] == "one of onprem, aws, gcp, azure, hybrid"
    assert rows["`gpu_pools[].gpus_per_node`"][1:3] == ["integer, 1 to 16", "`1`"]
    assert rows["`budget.alert_thresholds_pct`"][2] == "`[50, 80, 100]`"
    assert rows["`models[].slo.ttft_p95_ms`"][2] == "required"
    # A union's members share one row for a shared key, with both types.
    assert rows["`hybrid.connectivity.kind`"][1] == "vpn or existing"
    assert "`hybrid.connectivity.peer_ip`" in rows and "`hybrid.connectivity.name`" in rows
    assert len(rows) == len(list(docs.fields()))


def test_schema_header():
    schema = json.loads((ROOT / docs.SCHEMA_FILE).read_text())
    assert list(schema)[:3] == ["$schema", "$id", "title"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/schema/environment-spec.json")
    stack = json.loads((ROOT / docs.STACK_SCHEMA_FILE).read_text())
    assert stack["properties"]["config"]["required"] == ["llm-platform:spec"]


@pytest.mark.parametrize("path", STACKS, ids=lambda p: p.stem)
def test_stack_schema_accepts_every_stack(path):
    stack = yaml.safe_load(path.read_text())
    jsonschema.Draft202012Validator.check_schema(docs.stack_schema())
    jsonschema.Draft202012Validator(docs.stack_schema()).validate(stack)


def test_stack_schema_points_at_a_mistake():
    stack = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())
    spec = stack["config"]["llm-platform:spec"]
    validator = jsonschema.Draft202012Validator(docs.stack_schema())

    def errors(mutated_spec):
        bad = copy.deepcopy(stack)
        bad["config"]["llm-platform:spec"] = mutated_spec
        return [(list(e.absolute_path), e.validator) for e in validator.iter_errors(bad)]

    too_many = copy.deepcopy(spec)
    too_many["gpu_pools"][0]["gpus_per_node"] = 17
    path = ["config", "llm-platform:spec", "gpu_pools", 0, "gpus_per_node"]
    assert errors(too_many) == [(path, "maximum")]

    typo = copy.deepcopy(spec)
    typo["gpu_pool"] = typo.pop("gpu_pools")
    assert sorted(v for _, v in errors(typo)) == ["additionalProperties", "required"]

    engine = copy.deepcopy(spec)
    engine["models"][0]["engine"]["kind"] = "vLLM"
    assert errors(engine) == [
        (["config", "llm-platform:spec", "models", 0, "engine", "kind"], "enum")
    ]


def test_descriptions_state_the_defaults_the_code_uses():
    from components import pricing
    from components.observability import rules

    text = {d.path: d.info.description or "" for d in docs.fields()}
    assert rules.DEFAULT_COST_CEILING_FACTOR == 2
    assert "twice the planned figure" in text["models[].slo.max_usd_per_1k_conversations"]
    assert pricing.WEIGHT_VERSIONS_KEPT == 3
    assert "three versions" in text["artifacts.expected_gib"]
    assert pricing.HOURS_PER_MONTH == 730
    assert "x 730 h" in text["gpu_pools[].node_hours_per_month"]
