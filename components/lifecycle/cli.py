"""What the lifecycle's CLIs share: exit codes, one-line argument errors, the Pushgateway."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

OK, FAILED, BAD_ARGS = 0, 1, 2
PUSH_TIMEOUT_SECONDS = 10.0


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line and exit 2: argparse's own error prints the
    whole usage first (argparse.ArgumentParser.error)."""

    def error(self, message: str) -> NoReturn:
        fail(f"{self.prog}: {message}", BAD_ARGS)


def fail(line: str, code: int = FAILED) -> NoReturn:
    print(line, file=sys.stderr, flush=True)
    raise SystemExit(code)


def first_line(err: object) -> str:
    """An exception's message as one line: a library's may run over several."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def push(gateway: str, job: str, grouping: dict[str, str], values: dict[str, float]) -> str | None:
    """Push `values` (series name -> value) as one group; the Pushgateway adds the grouping
    labels to every series, as the quality monitor's pushes do. None, or why it failed: a
    Pushgateway that is down must not change what the check decided."""
    registry = CollectorRegistry()
    for name, value in values.items():
        Gauge(name, name.replace("_", " "), registry=registry).set(value)
    try:
        # prometheus_client==0.26.0 exposition.py:620-628
        push_to_gateway(gateway, job=job, registry=registry, grouping_key=grouping,
                        timeout=PUSH_TIMEOUT_SECONDS)
    except (OSError, ValueError) as err:  # urllib's URLError is an OSError
        return f"pushgateway {gateway}: {err}"
    return None
