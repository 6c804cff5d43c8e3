"""The runtime settings (`gateway.json`, GATEWAY_SETTINGS) the proxy's config builder writes
from the spec: teams, their limits and key aliases, the environment's ceiling, the request
log's place and retention. Read by every runtime module; never the spec's pydantic models."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Names become directory and file names of the request log and label values: a DNS label,
# as the spec requires of models and teams.
_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")


class SettingsError(ValueError):
    """One problem of gateway.json, with its path in the file."""


@dataclass(frozen=True)
class TeamLimits:
    """A team's allowed models and limits: a row of gateway_team (components/gateway/store)."""

    name: str
    models: tuple[str, ...]
    # None: no limit of that kind.
    rpm: int | None
    tpm: int | None
    max_parallel_requests: int | None
    monthly_budget_usd: float | None


@dataclass(frozen=True)
class Team(TeamLimits):
    keys: tuple[str, ...]

    def limits(self) -> TeamLimits:
        return TeamLimits(self.name, self.models, self.rpm, self.tpm,
                          self.max_parallel_requests, self.monthly_budget_usd)


@dataclass(frozen=True)
class Judge:
    model: str
    api_base: str


@dataclass(frozen=True)
class Shadow:
    """Where and how often a model's requests are copied to its rollout's candidate
    (components/gateway/shadow.py)."""

    api_base: str
    sample_fraction: float
    timeout_s: float
    revision: str
    max_in_flight: int
    judge: Judge | None


@dataclass(frozen=True)
class Model:
    revision: str
    # The LiteLLM model group the model overflows to (`<model>-hosted`), or None.
    fallback: str | None
    # Set during a rollout: the stable revision still serving beside `revision`.
    previous_revision: str | None = None
    shadow: Shadow | None = None


@dataclass(frozen=True)
class Settings:
    environment: str
    ceiling_usd: float | None
    log_dir: Path
    retention_days: int
    redact_prompts: bool
    teams: tuple[Team, ...]
    models: dict[str, Model]

    def team(self, name: str) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)

    def requested_model(self, model_group: str) -> str | None:
        """The model a client asked for, from the LiteLLM model group that served it (the
        model itself, or its fallback group)."""
        if model_group in self.models:
            return model_group
        return next((m for m, v in self.models.items() if v.fallback == model_group), None)


def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str,
         optional: bool = False) -> Any:
    value = obj.get(key)
    if value is None and optional:
        return None
    # bool is an int in Python; a limit of `true` is a mistake, not 1.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        path = f"{where}.{key}" if where else key
        raise SettingsError(f"{path}: expected {_names(kind)}, got {json.dumps(value)}")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _kinds(kind))


def _name(value: str, where: str) -> str:
    if not _NAME.fullmatch(value):
        raise SettingsError(f"{where}: {value!r} is not a DNS label")
    return value


def _limit(team: dict[str, Any], key: str, where: str) -> int | None:
    value = _get(team, key, int, where, optional=True)
    if value is not None and value < 1:
        raise SettingsError(f"{where}.{key}: must be at least 1, got {value}")
    return value


def _team(obj: Any, where: str) -> Team:
    if not isinstance(obj, dict):
        raise SettingsError(f"{where}: expected an object")
    budget = _get(obj, "monthly_budget_usd", (int, float), where, optional=True)
    return Team(
        name=_name(_get(obj, "name", str, where), f"{where}.name"),
        models=tuple(_name(m, f"{where}.models") for m in _strings(obj, "models", where)),
        rpm=_limit(obj, "rpm", where),
        tpm=_limit(obj, "tpm", where),
        max_parallel_requests=_limit(obj, "max_parallel_requests", where),
        monthly_budget_usd=None if budget is None else float(budget),
        keys=tuple(_name(k, f"{where}.keys") for k in _strings(obj, "keys", where)),
    )


def _strings(obj: dict[str, Any], key: str, where: str) -> list[str]:
    values = _get(obj, key, list, where)
    if not all(isinstance(v, str) for v in values):
        raise SettingsError(f"{where}.{key}: expected a list of strings")
    return values


def _model(obj: dict[str, Any], where: str) -> Model:
    shadow = _get(obj, "shadow", dict, where, optional=True)
    return Model(
        revision=_get(obj, "revision", str, where),
        fallback=_get(obj, "fallback", str, where, optional=True),
        previous_revision=_get(obj, "previous_revision", str, where, optional=True),
        shadow=None if shadow is None else _shadow(shadow, f"{where}.shadow"),
    )


def _shadow(obj: dict[str, Any], where: str) -> Shadow:
    fraction = float(_get(obj, "sample_fraction", (int, float), where))
    if not 0 < fraction <= 1:
        raise SettingsError(f"{where}.sample_fraction: must be in (0, 1], got {fraction}")
    timeout = float(_get(obj, "timeout_s", (int, float), where))
    if timeout <= 0:
        raise SettingsError(f"{where}.timeout_s: must be positive, got {timeout}")
    in_flight = _get(obj, "max_in_flight", int, where)
    if in_flight < 1:
        raise SettingsError(f"{where}.max_in_flight: must be at least 1, got {in_flight}")
    judge = _get(obj, "judge", dict, where, optional=True)
    return Shadow(
        api_base=_get(obj, "api_base", str, where),
        sample_fraction=fraction,
        timeout_s=timeout,
        revision=_get(obj, "revision", str, where),
        max_in_flight=in_flight,
        judge=None if judge is None else Judge(
            model=_get(judge, "model", str, f"{where}.judge"),
            api_base=_get(judge, "api_base", str, f"{where}.judge")),
    )


def parse(data: Any) -> Settings:
    """The settings of a parsed gateway.json, or SettingsError naming the first problem."""
    if not isinstance(data, dict):
        raise SettingsError("expected a JSON object")
    teams = tuple(_team(t, f"teams[{i}]") for i, t in enumerate(_get(data, "teams", list, "")))
    models = {
        _name(name, f"models.{name}"): _model(m, f"models.{name}")
        for name, m in _get(data, "models", dict, "").items()
        if isinstance(m, dict) or _fail(f"models.{name}: expected an object")
    }
    aliases = [k for t in teams for k in t.keys]
    for kind, names in (("team", [t.name for t in teams]), ("key alias", aliases)):
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SettingsError(f"teams: {kind} {dupes[0]!r} appears more than once")
    ceiling = _get(data, "ceiling_usd", (int, float), "", optional=True)
    return Settings(
        environment=_get(data, "environment", str, ""),
        ceiling_usd=None if ceiling is None else float(ceiling),
        log_dir=Path(_get(data, "log_dir", str, "")),
        retention_days=_get(data, "retention_days", int, ""),
        redact_prompts=_get(data, "redact_prompts", bool, ""),
        teams=teams,
        models=models,
    )


def _fail(message: str) -> bool:
    raise SettingsError(message)


def load(path: str | Path | None = None) -> Settings:
    """The settings in `path`, by default the file GATEWAY_SETTINGS names."""
    path = Path(path or os.environ.get("GATEWAY_SETTINGS") or "")
    if not str(path) or str(path) == ".":
        raise SettingsError("GATEWAY_SETTINGS is not set: it names the gateway.json to read")
    try:
        return parse(json.loads(path.read_text()))
    except SettingsError as err:
        raise SettingsError(f"{path}: {err}") from None
    except OSError as err:
        raise SettingsError(f"{path}: cannot read ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise SettingsError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
