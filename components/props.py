"""Reading a resource's properties as the Pulumi engine shows them to a policy pack (plain
mappings, or the policy SDK's proxies): a missing key reads as None. Shared by the policy
rules and each cloud's policy type tables (components/<cloud>/policy_types.py). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def get(obj: Any, *path: str | int) -> Any:
    """obj[path[0]][path[1]]..., or None where a key or index is missing."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(obj, Sequence) or isinstance(obj, str) or key >= len(obj):
                return None
        elif not isinstance(obj, Mapping) or key not in obj:
            return None
        obj = obj[key]
    return obj


def items(obj: Any) -> list[Any]:
    """A list property as a list ([] when absent)."""
    if isinstance(obj, Sequence) and not isinstance(obj, str):
        return [obj[i] for i in range(len(obj))]
    return []


def number(value: Any) -> float | None:
    """A numeric property (not a bool) as a float; None when absent or not a number."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def amount(value: Any) -> float | None:
    """A money amount, which some providers take as a string."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
