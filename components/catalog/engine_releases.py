"""The pinned engine releases and what each really accepts and exports (engines.yaml)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from components.catalog import yaml_file

_HERE = Path(__file__).parent


class EngineRelease(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    release: str
    image: str
    source: str = Field(min_length=8)
    as_of: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    flags: list[str]
    # series name -> {label: the values the release writes}, for the labels we select on
    metrics: dict[str, dict[str, list[str]]]


@cache
def engine_releases() -> dict[str, EngineRelease]:
    """Engine kind (as in the spec's engine.kind) -> the release the stacks pin."""
    rows = yaml_file.read(_HERE / "engines.yaml")["engines"]
    return {r["id"]: EngineRelease.model_validate(r) for r in rows}
