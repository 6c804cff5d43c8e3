"""`llm-platform retrain`: the spec change that re-runs a recorded training run.

A run record (contract.RUN_RECORD, beside the output model) stores the run's RunConfig whole:
its fields at the top level, or in one object of the record (under "run", say). The same
RunConfig is the same run id, so putting these fields back in training.jobs[<job>] makes the
Job re-run exactly that run (components/training/contract.py). Pure: no Pulumi, no cluster.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from components.input_files import InputFileError, read_json
from components.spec import TrainingJob, echo
from components.training.contract import RunConfig

# The spec's training.jobs[] keys a run fixes, in the order a stack file lists them.
RUN_KEYS = ("image", "command", "base", "dataset", "hyperparameters", "seed")
_TYPES: dict[str, type | tuple[type, ...]] = {
    "job": str, "image": str, "command": list, "base_hf_id": str, "base_revision": str,
    "dataset_uri": str, "dataset_version": str, "hyperparameters": dict, "seed": int,
}


class RecordError(ValueError):
    """A run record that cannot be read back into a run: one line for the user."""


def read_record(path: Path) -> RunConfig:
    where = f"--record {path}"
    try:
        doc = read_json(path, where)
    except InputFileError as exc:
        raise RecordError(str(exc)) from None
    return run_config(doc, where)


def run_config(doc: Any, where: str) -> RunConfig:
    """The RunConfig a record stores, checked field by field; a stored run_id must be the
    one its fields give, so an edited record is not taken for the run it claims to be."""
    run = _config_part(doc)
    if not isinstance(run, dict):
        raise RecordError(f"{where}: a run record is a JSON object with the run's config")
    values = {}
    for f in fields(RunConfig):
        if f.name not in run:
            raise RecordError(f"{where}: missing '{f.name}': not a run record ({_expected()})")
        value = run[f.name]
        if not isinstance(value, _TYPES[f.name]) or isinstance(value, bool) and f.name == "seed":
            raise RecordError(f"{where}: '{f.name}' must be a {_TYPES[f.name].__name__}")
        values[f.name] = tuple(value) if f.name == "command" else value
    config = RunConfig(**values)
    stored = doc.get("run_id") if isinstance(doc, dict) else None
    if stored is not None and stored != config.run_id():
        raise RecordError(
            f"{where}: run_id {echo(str(stored))} is not the id of its config "
            f"({config.run_id()}): the record was edited or is not ours"
        )
    _check_fields(config, where)
    return config


def _config_part(doc: Any) -> Any:
    """The object holding the RunConfig's fields: the record itself or one of its objects
    (the harness may keep them beside the run's facts, under "run" or another key); else
    "run" or the record, for the missing field to be named."""
    if not isinstance(doc, dict):
        return doc
    names = {f.name for f in fields(RunConfig)}
    for part in (doc, *(v for v in doc.values() if isinstance(v, dict))):
        if names <= part.keys():
            return part
    return doc["run"] if isinstance(doc.get("run"), dict) else doc


def _expected() -> str:
    return "fields " + ", ".join(f.name for f in fields(RunConfig))


def job_fields(config: RunConfig) -> dict[str, Any]:
    """training.jobs[] keys that reproduce the run."""
    return {
        "image": config.image,
        "command": list(config.command),
        "base": {"hf_id": config.base_hf_id, "revision": config.base_revision},
        "dataset": {"uri": config.dataset_uri, "version": config.dataset_version},
        "hyperparameters": dict(config.hyperparameters),
        "seed": config.seed,
    }


def _check_fields(config: RunConfig, where: str) -> None:
    """The spec must take the fields back: the same types a stack's job is held to."""
    probe = {"name": config.job, "model": "probe", "pool": "probe", "expected_hours": 1,
             **job_fields(config)}
    try:
        TrainingJob.model_validate(probe)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        key = "job" if key == "name" else key
        raise RecordError(f"{where}: '{key}': {first['msg']}") from None


def stack_job(job: TrainingJob) -> dict[str, Any]:
    """The same keys as `job_fields`, from a stack's checked job."""
    return {
        "image": job.image,
        "command": list(job.command),
        "base": job.base.model_dump(),
        "dataset": job.dataset.model_dump(),
        "hyperparameters": dict(job.hyperparameters),
        "seed": job.seed,
    }


def change(config: RunConfig, current: TrainingJob | None) -> dict[str, Any]:
    """The keys to set: all of them without a stack's job, else only those that differ
    (a whole object or map, since a stale key left in it would change the run)."""
    wanted = job_fields(config)
    if current is None:
        return {"name": config.job, **wanted}
    have = stack_job(current)
    # Compared as the run id sees them (canonical JSON): 1, 1.0 and true are three runs.
    return {k: v for k, v in wanted.items() if _canonical(have[k]) != _canonical(v)}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def render(edit: dict[str, Any]) -> str:
    return yaml.safe_dump(edit, sort_keys=False, default_flow_style=False, width=100)
