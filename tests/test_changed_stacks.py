""".github/scripts/changed-stacks against real git histories built here: the stacks a
change touches, the untouched ones and the deleted ones; every stack for a first push (an
all-zero base) and a force push (a base the clone never had); any other git failure an
::error:: with exit 1 and nothing on stdout, so the workflow step fails instead of writing
an empty `stacks=`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest
from conftest import ROOT

SCRIPT = ROOT / ".github" / "scripts" / "changed-stacks"
STACKS = ["aws", "gcp", "local"]
ZERO = "0" * 40
# A git that reads no user or system config, and commits with a fixed identity and date.
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_AUTHOR_DATE": "2026-12-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-12-01T00:00:00Z",
}


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}, check=True)
    return proc.stdout.strip()


def commit(repo: Path, message: str, write: dict[str, str] | None = None,
           delete: tuple[str, ...] = ()) -> str:
    for path, text in (write or {}).items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    for path in delete:
        git(repo, "rm", "-q", path)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project with three stacks, a component, a README and a workflow; `base` is its
    first commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "base", {
        **{f"stacks/Pulumi.{s}.yaml": f"config: {{}} # {s}\n" for s in STACKS},
        "components/ci.py": "x = 1\n",
        "README.md": "# project\n",
        ".github/workflows/deploy.yml": "on: push\n",
        "Makefile": "all:\n",
        "pyproject.toml": "[project]\n",
        "Pulumi.yaml": "name: p\n",
        "locks/plan.txt": "a==1\n",
        "platform/__main__.py": "\n",
        "policies/p.py": "\n",
    })
    return repo


def run(repo: Path, base: str, *, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), base], cwd=cwd or repo,
                          capture_output=True, text=True, env={**os.environ, **GIT_ENV})


def outputs(proc: subprocess.CompletedProcess) -> dict[str, list[str]]:
    """The $GITHUB_OUTPUT lines, exactly three, as the workflow's fromJSON reads them."""
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["stacks", "untouched", "removed"]
    return {k: json.loads(v) for k, v in (line.split("=", 1) for line in lines)}


def notices(proc: subprocess.CompletedProcess) -> list[str]:
    return [line.removeprefix("::notice::") for line in proc.stderr.splitlines()
            if line.startswith("::notice::")]


def failed(proc: subprocess.CompletedProcess) -> str:
    """An ::error:: line on stderr, exit 1, nothing the step could write to $GITHUB_OUTPUT."""
    assert (proc.returncode, proc.stdout) == (1, ""), proc
    (line,) = proc.stderr.splitlines()
    assert line.startswith("::error::changed-stacks: ")
    return line


def test_the_script_runs_by_its_shebang_with_nothing_installed(repo):
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "aws", {"stacks/Pulumi.aws.yaml": "config: {a: 1}\n"})
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")
    proc = subprocess.run([str(SCRIPT), base], cwd=repo, capture_output=True, text=True)
    assert proc.stdout == 'stacks=["aws"]\nuntouched=["gcp", "local"]\nremoved=[]\n'


def test_a_stack_file_changes_its_stack_only(repo):
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "gcp", {"stacks/Pulumi.gcp.yaml": "config: {b: 2}\n"})
    proc = run(repo, base)
    assert outputs(proc) == {"stacks": ["gcp"], "untouched": ["aws", "local"], "removed": []}
    assert proc.stderr == ""


def test_a_readme_change_touches_no_stack(repo):
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "docs", {"README.md": "# better\n", "stacks/README.md": "how to add one\n"})
    assert outputs(run(repo, base)) == {"stacks": [], "untouched": STACKS, "removed": []}


@pytest.mark.parametrize("path", [
    "components/ci.py", "platform/__main__.py", "policies/p.py", "locks/plan.txt",
    ".github/workflows/deploy.yml", ".github/scripts/new", "Makefile", "pyproject.toml",
    "Pulumi.yaml",
])
def test_a_change_every_stack_depends_on_touches_every_stack(repo, path):
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, path, {path: "changed\n"})
    assert outputs(run(repo, base)) == {"stacks": STACKS, "untouched": [], "removed": []}


def test_a_look_alike_path_touches_no_stack(repo):
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "look-alikes", {"docs/components/x.md": "\n", "Makefile.old": "\n",
                                 "stacks/old/Pulumi.aws.yaml": "\n", "stacks/Pulumi.aws.yml": "\n"})
    assert outputs(run(repo, base)) == {"stacks": [], "untouched": STACKS, "removed": []}


def test_a_deleted_stack_is_removed_never_listed(repo):
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "drop gcp", delete=("stacks/Pulumi.gcp.yaml",))
    proc = run(repo, base)
    assert outputs(proc) == {"stacks": [], "untouched": ["aws", "local"], "removed": ["gcp"]}
    assert notices(proc) == [
        "stacks/Pulumi.gcp.yaml is deleted by this change: stack gcp is neither previewed nor "
        "deployed; its resources stay until `pulumi destroy -s gcp`"
    ]


def test_a_deleted_stack_with_a_component_change_is_still_not_listed(repo):
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "drop aws", {"components/ci.py": "x = 2\n"}, delete=("stacks/Pulumi.aws.yaml",))
    assert outputs(run(repo, base)) == {"stacks": ["gcp", "local"], "untouched": [],
                                        "removed": ["aws"]}


def test_a_renamed_stack_is_a_removed_one_and_a_new_one(repo):
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "mv", "stacks/Pulumi.gcp.yaml", "stacks/Pulumi.gcp-prod.yaml")
    commit(repo, "rename")
    assert outputs(run(repo, base)) == {"stacks": ["gcp-prod"], "untouched": ["aws", "local"],
                                        "removed": ["gcp"]}


def test_a_pull_request_is_diffed_from_where_it_left_main(repo):
    # main moves on (local changes) after the branch left it; only the branch's own change
    # (aws) counts, as with `origin/main` for the base of a pull request.
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "aws", {"stacks/Pulumi.aws.yaml": "config: {a: 1}\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, "local on main", {"stacks/Pulumi.local.yaml": "config: {l: 1}\n"})
    git(repo, "checkout", "-q", "feature")
    assert outputs(run(repo, "main")) == {"stacks": ["aws"], "untouched": ["gcp", "local"],
                                          "removed": []}


def test_output_is_sorted_and_the_same_every_run(repo):
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "three", {"stacks/Pulumi.local.yaml": "x\n", "stacks/Pulumi.zz.yaml": "x\n",
                           "stacks/Pulumi.aws.yaml": "x\n"})
    first = run(repo, base)
    assert outputs(first) == {"stacks": ["aws", "local", "zz"], "untouched": ["gcp"],
                              "removed": []}
    assert run(repo, base).stdout == first.stdout


def test_a_file_name_with_a_newline_cannot_forge_a_line(repo):
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "odd", {"docs/a\nstacks=[\"evil\"]": "\n", "stacks/Pulumi.we\nird.yaml": "\n",
                         "stacks/Pulumi.my stack.yaml": "\n"})
    proc = run(repo, base)
    assert outputs(proc) == {"stacks": [], "untouched": STACKS, "removed": []}
    # Pulumi names no stack so: each is said once, whether it is at HEAD or in the diff.
    assert proc.stderr.splitlines() == [
        "::warning::'stacks/Pulumi.my stack.yaml' is not a stack file: a stack name may only "
        "contain letters, digits, '-', '_' and '.'",
        "::warning::'stacks/Pulumi.we\\nird.yaml' is not a stack file: a stack name may only "
        "contain letters, digits, '-', '_' and '.'",
    ]


def test_it_runs_from_a_subdirectory_whatever_the_diff_config(repo):
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "aws", {"stacks/Pulumi.aws.yaml": "config: {a: 1}\n"})
    git(repo, "config", "diff.relative", "true")
    git(repo, "config", "color.diff", "always")
    assert outputs(run(repo, base, cwd=repo / "components")) == {
        "stacks": ["aws"], "untouched": ["gcp", "local"], "removed": []}


def test_a_first_push_has_an_all_zero_base_and_gets_every_stack(repo):
    proc = run(repo, ZERO)
    assert outputs(proc) == {"stacks": STACKS, "untouched": [], "removed": []}
    assert notices(proc) == [f"base {ZERO} is all zeros (the first push of a branch): every stack"]


def test_a_force_push_base_the_clone_never_had_gets_every_stack(repo, tmp_path):
    gone = commit(repo, "pushed, then rewritten", {"stacks/Pulumi.aws.yaml": "v1\n"})
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    commit(repo, "force-pushed", {"stacks/Pulumi.gcp.yaml": "v2\n"})
    # The runner's clone (fetch-depth: 0) holds what the branch reaches, not the old tip.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-local", str(repo), str(clone))
    proc = run(clone, gone)
    assert outputs(proc) == {"stacks": STACKS, "untouched": [], "removed": []}
    assert notices(proc) == [f"base {gone} is not in the history (a force push): every stack"]


def test_a_base_with_no_common_history_gets_every_stack(repo):
    git(repo, "checkout", "-q", "--orphan", "rewritten")
    commit(repo, "new root", {"stacks/Pulumi.aws.yaml": "new\n"})
    proc = run(repo, "main")
    assert outputs(proc) == {"stacks": STACKS, "untouched": [], "removed": []}
    assert notices(proc) == ["base main shares no history with HEAD (a force push): every stack"]


def test_a_shallow_clone_without_the_base_fails_the_step(repo, tmp_path):
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, "aws", {"stacks/Pulumi.aws.yaml": "v1\n"})
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    assert failed(run(clone, base)) == (
        f"::error::changed-stacks: base {base} is not in this shallow clone; check out with "
        "fetch-depth: 0 so that a force push can be told from a missing history"
    )


def test_a_ref_that_does_not_exist_fails_the_step(repo):
    assert failed(run(repo, "origin/main")) == (
        "::error::changed-stacks: no commit or ref 'origin/main' in this clone")


def test_outside_a_repository_fails_the_step(tmp_path):
    line = failed(run(tmp_path, "main", cwd=tmp_path))
    assert "not a git repository" in line


@pytest.mark.parametrize("args", [[], ["--output=/tmp/x"], [""], ["a", "b"]])
def test_a_bad_argument_is_a_usage_error(repo, args):
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=repo, capture_output=True,
                          text=True)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "::error::usage: changed-stacks <base ref or commit>\n"


def test_a_notice_stays_one_line():
    loader = SourceFileLoader("changed_stacks", str(SCRIPT))
    script = module_from_spec(spec_from_loader("changed_stacks", loader))
    loader.exec_module(script)
    assert script.command("notice", "50% of\r\nit") == "::notice::50%25 of%0D%0Ait"
