"""Hypothesis under CI draws the same examples every run; locally it draws new ones. Either way
a failure prints the line that replays it (tests/conftest.py's profiles)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

FAILING = """
from hypothesis import given, strategies as st

@given(st.integers())
def test_small(x):
    assert x < 1000
"""


def _env(ci: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST_") and k not in ("CI", "LLM_PLATFORM_FUZZ")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])
    return {**env, "CI": "true"} if ci else env


@pytest.mark.parametrize(("ci", "derandomized"), [(True, True), (False, False)])
def test_the_profile_follows_ci_and_a_failure_prints_its_reproducer(tmp_path: Path, ci, derandomized):
    (tmp_path / "test_draw.py").write_text(FAILING)
    # `-p conftest` loads the suite's conftest as the plugin it is for tests/ (profiles included).
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "test_draw.py", "-p", "conftest", "-p", "no:cacheprovider",
         "-q"],
        cwd=tmp_path, env=_env(ci), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "@reproduce_failure(" in proc.stdout, proc.stdout[-3000:]
    profile = subprocess.run(
        [sys.executable, "-c", "import conftest; from hypothesis import settings; "
         "print(settings.default.derandomize, settings.default.print_blob)"],
        cwd=tmp_path, env=_env(ci), capture_output=True, text=True, timeout=60, check=True)
    assert profile.stdout.split() == [str(derandomized), "True"]
