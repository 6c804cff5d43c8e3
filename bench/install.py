"""`make bench-install`: what a new user waits for, from a fresh clone and empty caches.

Clones the committed HEAD into a temporary directory, then times each make target there with
uv's and pip's caches empty (so every package is downloaded, as on a new machine), and prints
the wall time and the size of each virtualenv it left. Needs PyPI; the Debian test tools are
not part of it (`make install` installs Python packages only).

    bench/install.py                 make plan, then make plan STACK=aws, then make install
    bench/install.py plan            only the targets named
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each step runs in the clone the steps before it left, as a user would run them in turn.
STEPS = {
    "plan": ["make", "plan"],
    "plan-aws": ["make", "plan", "STACK=aws"],
    "install": ["make", "install"],
}
VENVS = (".venv", ".venv-uv", ".venv-checkov")


def size_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return total / 1e6


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        print(f"bench/install.py: unknown step {', '.join(unknown)}; steps: {', '.join(STEPS)}")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {**os.environ, "UV_CACHE_DIR": f"{tmp}/uv-cache", "PIP_NO_CACHE_DIR": "1"}
        print(f"{'step':<10} {'seconds':>8}  venv sizes (MB)")
        for name in names or list(STEPS):
            started = time.perf_counter()
            done = subprocess.run(STEPS[name], cwd=clone, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                print(f"{name}: exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
                return 1
            sizes = ", ".join(
                f"{venv} {size_mb(clone / venv):.0f}" for venv in VENVS if (clone / venv).exists()
            )
            print(f"{name:<10} {seconds:>8.1f}  {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
