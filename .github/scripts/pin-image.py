#!/usr/bin/env python3
"""Pin one of our images' catalog row to the digest a release pushed (images.yml).

    .github/scripts/pin-image.py NAME VERSION DIGEST [CATALOG]

The row `id: NAME` of components/catalog/versions.yaml must name
ghcr.io/llm-platform/NAME:VERSION, the tag the release pushed; its value becomes
ghcr.io/llm-platform/NAME:VERSION@DIGEST, its digest_pending reason goes, and source and
as_of say which release pushed it. The file is edited line by line so its comments survive.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

REGISTRY = "ghcr.io/llm-platform"
CATALOG = Path(__file__).resolve().parents[2] / "components" / "catalog" / "versions.yaml"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
ROW_FIELD = "    "  # the indent of a row's fields under `  - id:`


def _row_span(lines: list[str], name: str) -> tuple[int, int]:
    try:
        start = lines.index(f"  - id: {name}\n")
    except ValueError:
        raise SystemExit(f"no catalog row has id {name}") from None
    end = start + 1
    while end < len(lines) and lines[end].startswith(ROW_FIELD):
        end += 1
    return start, end


def pin(text: str, name: str, version: str, digest: str, today: str) -> str:
    """The catalog text with row NAME pinned to DIGEST; every other line unchanged."""
    if not DIGEST.match(digest):
        raise SystemExit(f"{digest!r} is not a sha256 digest")
    lines = text.splitlines(keepends=True)
    start, end = _row_span(lines, name)
    tag = f"{REGISTRY}/{name}:{version}"
    fields = {}
    for line in lines[start + 1 : end]:
        key, _, value = line.strip().partition(": ")
        fields[key] = value
    if fields.get("value", "").split("@", 1)[0] != tag:
        raise SystemExit(f"row {name} names {fields.get('value')!r}, not the pushed {tag}")
    fields.pop("digest_pending", None)
    fields["value"] = f"{tag}@{digest}"
    fields["source"] = (
        f"pushed from docker/{name}.Dockerfile at release v{version} by "
        f".github/workflows/images.yml (the digest docker/build-push-action reported)"
    )
    fields["as_of"] = f'"{today}"'
    row = [f"{ROW_FIELD}{key}: {value}\n" for key, value in fields.items()]
    return "".join(lines[: start + 1] + row + lines[end:])


def main(argv: list[str]) -> None:
    if len(argv) not in (3, 4):
        raise SystemExit(__doc__)
    name, version, digest = argv[:3]
    catalog = Path(argv[3]) if len(argv) == 4 else CATALOG
    today = datetime.now(UTC).date().isoformat()
    catalog.write_text(pin(catalog.read_text(), name, version, digest, today))


if __name__ == "__main__":
    main(sys.argv[1:])
