"""The images we build (issue 14, part 5): every recipe in docker/ starts from a base pinned by
digest in the catalog and installs Python packages from a hash-locked file in locks/ only;
every image of ours the catalog names has its recipe here and is pinned by digest once a
release has pushed it, or its row says why not; and .github/scripts/pin-image.py, which
images.yml runs after a push, pins a row without touching the rest of the catalog.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from components.catalog import versions

DOCKER = ROOT / "docker"
CATALOG = ROOT / "components" / "catalog" / "versions.yaml"
OURS = "ghcr.io/llm-platform/"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
PIP = re.compile(r"^pip(3(\.\d+)?)?$")  # pip, pip3, pip3.11, by path or not
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
# pip options whose value is the next word (or follows `=`); a bare word that is no such value
# is a requirement pip would resolve by name.
VALUED = {"-r", "--requirement", "-c", "--constraint", "-f", "--find-links", "-i",
          "--index-url", "--extra-index-url", "-t", "--target", "--prefix", "--root",
          "--python", "--platform", "--python-version", "--implementation", "--abi",
          "--only-binary", "--no-binary", "-e", "--editable"}


def _dockerfiles() -> list[Path]:
    files = sorted(DOCKER.glob("*.Dockerfile"))
    assert files, "docker/ has no recipe"
    return files


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def external_bases(text: str) -> list[str]:
    """The image of every FROM that is not an earlier stage of the same file."""
    stages: set[str] = set()
    bases = []
    for word, args in instructions(text):
        if word != "FROM":
            continue
        parts = [p for p in args.split() if not p.startswith("--platform=")]
        if len(parts) == 3 and parts[1].upper() == "AS":
            stages.add(parts[2])
        if parts[0] not in stages:
            bases.append(parts[0])
    return bases


def pip_installs(text: str) -> list[list[str]]:
    """The words after `install` of every pip (or uv pip) install in a RUN instruction."""
    runs = [args for word, args in instructions(text) if word == "RUN"]
    commands = [c for run in runs for c in re.split(r"&&|\|\||;|\|", run)]
    out = []
    for command in commands:
        words = shlex.split(command)
        for i in range(len(words) - 1):
            if PIP.match(Path(words[i]).name) and words[i + 1] == "install":
                out.append(words[i + 2 :])
    return out


def install_problem(args: list[str]) -> str | None:
    """Why one pip install could fetch something the lock did not hash, or None."""
    reqs, targets, i = [], [], 0
    while i < len(args):
        word = args[i]
        name, eq, _ = word.partition("=")
        if name in VALUED and not eq:
            value, i = args[i + 1], i + 1
            if name in ("-r", "--requirement"):
                reqs.append(value)
            elif name in ("-e", "--editable"):
                targets.append(value)
        elif not word.startswith("-"):
            targets.append(word)
        i += 1
    if reqs:
        for req in reqs:
            if not req.startswith("locks/") or not (ROOT / req).is_file():
                return f"-r {req} is not a lock in locks/ of this repository"
        missing = {"--require-hashes", "--no-deps"} - set(args)
        if missing:
            return f"installs {reqs} without {sorted(missing)}"
        return f"also installs {targets} by name, outside the lock" if targets else None
    if targets == ["."] and {"--no-deps", "--no-index", "--no-build-isolation"} <= set(args):
        return None
    return f"installs {targets} outside a lock (only `.`, with --no-deps --no-index " \
           f"--no-build-isolation, may go without one)"


def _ours() -> dict[str, versions.Pin]:
    return {i: p for i, p in versions.own().items() if p.value.startswith(OURS)}


# --- the recipes --------------------------------------------------------------------------


def test_every_base_is_a_catalog_pin_by_digest():
    catalog_images = {p.value for p in versions.own().values() if p.kind == "image"}
    for path in _dockerfiles():
        bases = external_bases(path.read_text())
        assert bases, f"{path.name} has no FROM"
        for base in bases:
            assert DIGEST.search(base), f"{path.name}: FROM {base} is not pinned by digest"
            assert base in catalog_images, f"{path.name}: FROM {base} is no catalog row"


def test_the_quality_monitor_builds_and_runs_on_the_catalogs_python_base():
    text = (DOCKER / "quality-monitor.Dockerfile").read_text()
    base = versions.image("python-base")
    assert base.startswith("python:3.11.") and "-slim-bookworm@sha256:" in base
    # A build stage and the runtime stage, both on the one base.
    assert external_bases(text) == [base, base]


def _our_imports(path: Path) -> set[str]:
    """The modules of ours a file imports (`from a.b import c` gives a.b, a.b.c may be a name)."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return {n for n in names if n.split(".")[0] == "components"}


def test_the_gateway_image_holds_the_locked_proxy_and_every_module_our_runtime_imports():
    text = (DOCKER / "gateway.Dockerfile").read_text()
    base = versions.image("python-base")
    assert external_bases(text) == [base, base]
    # The proxy and its drivers come from the gateway's lock alone, hash-checked.
    assert pip_installs(text) == [
        ["--no-cache-dir", "--require-hashes", "--no-deps", "-r", "locks/gateway.txt"]]
    steps = instructions(text)
    copied = [args.split()[0] for word, args in steps if word == "COPY" and "--from" not in args]
    copied = [c for c in copied if c.startswith("components")]
    # LiteLLM imports components.gateway.auth/.callbacks by name from its config, and the
    # Job runs components.gateway.provision: each module they import must be in the image.
    for module in sorted(ROOT.glob("components/gateway/*.py")):
        for name in _our_imports(module):
            path = name.replace(".", "/")
            if (ROOT / f"{path}.py").is_file() or (ROOT / path).is_dir():
                assert any(path == c or path.startswith(f"{c}/") or f"{path}.py" == c
                           for c in copied), f"{module.name} imports {name}, not in the image"
    assert "components/__init__.py" in copied
    env = " ".join(args for word, args in steps if word == "ENV")
    assert "PYTHONPATH=/app" in env
    # The pods' UID (components/kubernetes/pods.py RUN_AS), never root.
    assert [args for word, args in steps if word == "USER"] == ["10001"]
    # Plain commands: no shell pipelines or chains that could hide an unlocked install.
    for word, args in steps:
        if word == "RUN":
            assert not re.search(r"&&|\|\||;|\||\bsh -c|curl|wget", args), args


def test_the_model_tools_image_holds_the_lifecycle_lock_and_package_and_runs_as_the_pods_user():
    text = (DOCKER / "model-tools.Dockerfile").read_text()
    base = versions.image("python-base")
    # The lifecycle's build, the training harness's build, and the runtime.
    assert external_bases(text) == [base, base, base]
    lock = ["--require-hashes", "--no-deps", "-r", "locks/lifecycle.txt"]
    assert pip_installs(text) == [
        ["--no-cache-dir", *lock],
        ["--no-cache-dir", "--require-hashes", "--no-deps", "-r", "locks/uv.txt"],
        ["--python", "3.11.18", "--managed-python", "--target", "/opt/harness-site",
         "--compile-bytecode", *lock],
    ]
    steps = instructions(text)
    copied = [src for word, args in steps if word == "COPY" and "--from" not in args
              for src in args.split()[:-1]]
    ours = [c for c in copied if c.startswith("components")]
    lifecycle = ["components/__init__.py", "components/lifecycle",
                 "components/quality/__init__.py", "components/quality/logs.py"]
    assert ours == [*lifecycle, "components/__init__.py", "components/training", *lifecycle[1:]]
    # `python -m components.lifecycle.<cli>` and the harness need nothing of ours the image
    # does not copy: the packages, and the quality monitor's stdlib-only refusal detector.
    for module in sorted([*ROOT.glob("components/lifecycle/*.py"),
                          *ROOT.glob("components/training/*.py")]):
        for name in _our_imports(module):
            path = name.replace(".", "/")
            assert any(path in (c, c.removesuffix(".py")) or path.startswith(c + "/")
                       or path.startswith(c.removesuffix(".py") + "/") for c in copied), name
    env = " ".join(args for word, args in steps if word == "ENV")
    assert "PYTHONPATH=/app" in env
    assert [args for word, args in steps if word == "USER"] == ["10001"]
    for word, args in steps:
        if word == "RUN":
            assert not re.search(r"&&|\|\||;|\||\bsh -c|curl|wget", args), args


def test_the_training_harness_is_a_pinned_relocatable_python_at_the_pods_mount():
    """The interpreter uv installs is the one its pinned release names, its packages go into
    its own site-packages (no PYTHONPATH reaches the trainer), and it sits at the path the
    training pod's init container copies from and the trainer runs (contract.HARNESS_MOUNT)."""
    from components.training.contract import HARNESS_MOUNT

    text = (DOCKER / "model-tools.Dockerfile").read_text()
    steps = instructions(text)
    runs = [args for word, args in steps if word == "RUN"]
    assert "uv python install 3.11.18 --no-bin" in runs
    uv_pin = [ln for ln in (ROOT / "locks/uv.txt").read_text().splitlines()
              if ln.startswith("uv==")]
    assert uv_pin == ["uv==0.13.8 \\"]  # the uv that names python-build-standalone 20261110
    copies = [args.split() for word, args in steps if word == "COPY" and "--from=harness" in args]
    assert copies == [
        ["--from=harness", "/opt/pbs/cpython-3.11.18-linux-*/", f"{HARNESS_MOUNT}/"],
        ["--from=harness", "/opt/harness-site/",
         f"{HARNESS_MOUNT}/lib/python3.11/site-packages/"],
    ]
    assert f"ln -sf python3.11 {HARNESS_MOUNT}/bin/python" in runs


def test_every_pip_install_is_hash_locked():
    for path in _dockerfiles():
        installs = pip_installs(path.read_text())
        assert installs, f"{path.name} installs nothing with pip"
        for args in installs:
            assert install_problem(args) is None, f"{path.name}: {install_problem(args)}"


@pytest.mark.parametrize(
    ("run", "problem"),
    [
        ("pip install --no-deps -r locks/quality.txt", "without ['--require-hashes']"),
        ("pip install --require-hashes --no-deps -r requirements.txt", "not a lock in locks/"),
        ("pip install --require-hashes --no-deps -r locks/nowhere.txt", "not a lock in locks/"),
        ("pip install --require-hashes --no-deps -r locks/quality.txt torch", "by name"),
        ("pip install --no-cache-dir '.[quality]'", "outside a lock"),
        ("pip install --no-deps --no-build-isolation .", "outside a lock"),
        ("python -m pip install --upgrade pip", "outside a lock"),
        ("uv pip install -e . && true", "outside a lock"),
        ("/opt/venv/bin/pip3.11 install torch==2.13.0", "outside a lock"),
    ],
)
def test_the_install_check_names_each_unlocked_install(run, problem):
    installs = pip_installs(f"FROM scratch\nRUN {run}\n")
    assert len(installs) == 1
    assert problem in (install_problem(installs[0]) or "")


def test_the_parser_reads_continued_lines_and_stages():
    text = (
        "# FROM commented:1\nFROM base:1@sha256:" + "a" * 64 + " AS build\n"
        "RUN pip install --no-deps \\\n      -r locks/x.txt\n"
        "FROM build\nFROM --platform=linux/amd64 other:2\n"
    )
    assert external_bases(text) == ["base:1@sha256:" + "a" * 64, "other:2"]
    assert pip_installs(text) == [["--no-deps", "-r", "locks/x.txt"]]


# --- our images in the catalog and the rendered manifests ---------------------------------


def test_each_of_our_images_has_a_recipe_and_the_release_tag():
    ours = _ours()
    assert {"quality-monitor", "gateway"} <= set(ours)
    for id_, pin in ours.items():
        name, _, tag = pin.value.removeprefix(OURS).split("@")[0].partition(":")
        # images.yml pushes docker/<id>.Dockerfile as ghcr.io/llm-platform/<id>:<version>.
        assert name == id_, f"{id_}: names {name}"
        assert (DOCKER / f"{id_}.Dockerfile").is_file(), f"{id_}: no docker/{id_}.Dockerfile"
        assert tag == VERSION, f"{id_}: tag {tag}, but this release is {VERSION}"
    recipes = {p.name.removesuffix(".Dockerfile") for p in _dockerfiles()}
    assert recipes <= set(ours), f"recipes with no catalog row to pin: {recipes - set(ours)}"


def test_our_images_are_pinned_by_digest_or_say_why_not():
    """No digest exists before a release pushes an image, so a row of ours may instead give
    the reason (digest_pending); pin-image.py drops it when it pins the digest."""
    for id_, pin in versions.own().items():
        if not pin.value.startswith(OURS):
            assert pin.digest_pending is None, f"{id_}: only our own images may wait"
            continue
        pinned = bool(DIGEST.search(pin.value))
        assert pinned != bool(pin.digest_pending), (
            f"{id_}: {pin.value} needs a digest or a digest_pending reason, never both"
        )


def _rendered_images() -> set[str]:
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "image" and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in sorted((ROOT / "tests" / "golden").glob("*/manifests/*.yaml")):
        text = path.read_text()
        if OURS in text:
            for doc in yaml.safe_load_all(text):
                walk(doc)
    return {i for i in found if i.startswith(OURS)}


def test_rendered_manifests_run_our_images_as_the_catalog_pins_them():
    rendered = _rendered_images()
    assert rendered, "no golden manifest runs an image of ours"
    assert rendered <= {p.value for p in _ours().values()}


# --- pinning a pushed digest (images.yml) -------------------------------------------------


def _pin_image():
    spec = importlib.util.spec_from_file_location(
        "pin_image", ROOT / ".github" / "scripts" / "pin-image.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PUSHED = "sha256:" + "0123456789abcdef" * 4


def test_pin_image_pins_the_row_and_keeps_the_rest_of_the_catalog():
    before = CATALOG.read_text()
    after = _pin_image().pin(before, "quality-monitor", VERSION, PUSHED, "2026-12-02")
    rows = {r["id"]: r for r in yaml.safe_load(after)["versions"]}
    old = {r["id"]: r for r in yaml.safe_load(before)["versions"]}
    row = rows.pop("quality-monitor")
    old.pop("quality-monitor")
    assert rows == old
    assert row["value"] == f"ghcr.io/llm-platform/quality-monitor:{VERSION}@{PUSHED}"
    assert "digest_pending" not in row and row["as_of"] == "2026-12-02"
    assert f"release v{VERSION}" in row["source"]
    versions.Pin.model_validate(row)
    comments = [ln for ln in before.splitlines() if ln.lstrip().startswith("#")]
    assert [ln for ln in after.splitlines() if ln.lstrip().startswith("#")] == comments
    # A later rebuild of the same release replaces the digest rather than appending one.
    again = _pin_image().pin(after, "quality-monitor", VERSION, "sha256:" + "f" * 64, "2026-12-03")
    assert f"quality-monitor:{VERSION}@sha256:{'f' * 64}\n" in again


@pytest.mark.parametrize(
    ("name", "version", "digest", "why"),
    [
        ("quality-monitor", VERSION, "sha256:abc", "not a sha256 digest"),
        ("quality-monitor", "99.0.0", PUSHED, "not the pushed"),
        ("pushgateway", VERSION, PUSHED, "not the pushed"),
        ("eval-runner", VERSION, PUSHED, "no catalog row"),
    ],
)
def test_pin_image_refuses_what_the_release_did_not_push(name, version, digest, why):
    with pytest.raises(SystemExit, match=why):
        _pin_image().pin(CATALOG.read_text(), name, version, digest, "2026-12-02")


def test_the_images_workflow_pins_every_action_by_commit():
    workflow = (ROOT / ".github" / "workflows" / "images.yml").read_text()
    uses = re.findall(r"uses: (\S+)(.*)", workflow)
    assert len(uses) >= 6
    for action, comment in uses:
        assert re.search(r"@[0-9a-f]{40}$", action), f"{action} is not pinned by commit"
        assert re.match(r" # v\d+\.\d+\.\d+", comment), f"{action}: say which release it is"
