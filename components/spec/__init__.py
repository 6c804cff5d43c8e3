"""EnvironmentSpec: the one typed description of an environment.

A stack's `llm-platform:spec` config value parses into this. The shape is checked by
pydantic; the checks that need the catalog or the sizing model (does the model fit, is the
GPU known, is min <= max) run in `check`, so `load_spec` reports every problem at once,
one line each, with its config path.

`from components.spec import X` finds X in `errors`, `types` or `checks`, imported on first
use: a cloud's block (components/<cloud>/spec.py) imports `fields` and `errors` while
`types` imports the block, so importing this package must not import `types` by itself.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.spec.checks import *  # noqa: F403
    from components.spec.errors import *  # noqa: F403
    from components.spec.types import *  # noqa: F403

_PARTS = ("errors", "types", "checks")


def __getattr__(name: str) -> Any:
    if not name.startswith("_"):
        for part in _PARTS:
            module = import_module(f"{__name__}.{part}")
            if hasattr(module, name):
                return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
