"""The catalog's YAML, read with libyaml's loader: the pure-Python one took 0.7 s of every
`llm-platform` run (and of every test that starts one) to read the same files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# PyYAML's wheels carry libyaml; the pure loader is the fallback of a source build.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_LOADER)  # noqa: S506 - a safe loader
