"""The pull-request comment (.github/scripts/review-comment.py) names the golden files a change
rewrote, so a reviewer sees which rendered output the change accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SCRIPT = [sys.executable, str(ROOT / ".github" / "scripts" / "review-comment.py")]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})


def _write(repo: Path, files: dict[str, str | None]) -> None:
    for rel, text in files.items():
        path = repo / rel
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def _plan_output(directory: Path) -> Path:
    """The two files the comment reads from a plan, for a stack that passed at $100/month."""
    directory.mkdir()
    (directory / "policy.json").write_text(json.dumps({
        "pack": "llm-platform", "passed": True, "policies": ["p"], "config": {},
        "counts": {"mandatory": 0, "advisory": 0}, "violations": []}))
    (directory / "cost.json").write_text(json.dumps({
        "monthly_usd": 100.0, "budget_used_pct": 10.0, "budget_monthly_usd": 1000,
        "resources": [{"name": "gpu", "basis": "1 GPU-hour", "monthly_usd": 100.0}]}))
    return directory


def _comment(repo: Path, out: Path, base: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("BASE_REF", "PREVIEW")}
    if base:
        env["BASE_REF"] = base
    return subprocess.run([*SCRIPT, "aws", str(out)], cwd=repo, env=env, capture_output=True,
                          text=True, check=True).stdout


def test_review_comment_lists_the_golden_files_the_change_rewrote(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _write(repo, {"tests/golden/aws/cost.json": "{}\n",
                  "tests/golden/aws/manifests/service-a.yaml": "kind: Service\n",
                  "tests/golden/gcp/cost.json": "{}\n",
                  "components/sizing.py": "X = 1\n"})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "checkout", "-q", "-b", "change")
    out = _plan_output(tmp_path / "out")

    assert "none changed under `tests/golden/aws/`" in _comment(repo, out, "main")

    # A change to aws's rendering: one file edited, one gone, one new; gcp's is not aws's news.
    _write(repo, {"tests/golden/aws/cost.json": '{"monthly_usd": 100}\n',
                  "tests/golden/aws/manifests/service-a.yaml": None,
                  "tests/golden/aws/helm/prometheus-adapter.yaml": "rules: {}\n",
                  "tests/golden/gcp/cost.json": '{"monthly_usd": 1}\n',
                  "components/sizing.py": "X = 2\n"})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "change")
    text = _comment(repo, out, "main")
    listed = [line for line in text.splitlines() if line.startswith("- ")]
    assert listed == ["- changed `cost.json`",
                      "- added `helm/prometheus-adapter.yaml`",
                      "- removed `manifests/service-a.yaml`"]
    assert "**Golden files**: 3 changed under `tests/golden/aws/`" in text
    assert "**Estimated cost**: $100.00/month" in text  # the rest of the comment is still there

    # Run outside a pull request (no base), the comment has no golden section at all.
    assert "Golden files" not in _comment(repo, out, None)


def test_review_comment_fails_loudly_when_the_base_is_unknown(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _write(repo, {"README.md": "x\n"})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    out = _plan_output(tmp_path / "out")
    env = {**os.environ, "BASE_REF": "origin/main"}  # a shallow checkout has no such ref
    proc = subprocess.run([*SCRIPT, "aws", str(out)], cwd=repo, env=env, capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert "git diff against origin/main failed" in proc.stderr
