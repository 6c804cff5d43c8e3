"""`python -m components.lifecycle.verify --model M --revision R --dir /models/M
--public-key F [--pushgateway URL]`: the model server's `verify-weights` init container.

The local copy of `models/<M>/<R>/` must carry a signature by the public key over exactly its
files (every byte hashed: signing.verify), and a manifest that names this model and revision
and lists exactly those files (manifest.check_layout). A failure prints ONE line, pushes
`llm_model_artifact_invalid{model,revision}` = 1 (job `model-verify`, so the alert
ModelArtifactInvalid fires) and exits 1, so the engine never starts on those weights;
success pushes 0, which clears the alert once a good copy is in place.
"""

from __future__ import annotations

import sys
from pathlib import Path

from components.lifecycle import cli, manifest, signing

JOB = "model-verify"
SERIES = "llm_model_artifact_invalid"


def parser() -> cli.Parser:
    p = cli.Parser(prog="verify", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--revision", required=True)
    p.add_argument("--dir", required=True, type=Path, help="the local copy of the revision")
    p.add_argument("--public-key", required=True, type=Path, help="PEM of the EC public key")
    p.add_argument("--pushgateway", default="", help="URL; no push without it")
    return p


def check(directory: Path, public_key: Path, model: str, revision: str) -> str | None:
    """None when the copy is the signed revision, else the one line that says why not."""
    if not directory.is_dir():
        return f"{directory}: no such directory, nothing was copied"
    try:
        signing.verify(directory, public_key)
        manifest.check_layout(directory, model, revision)
    except (signing.VerificationError, manifest.ManifestError) as err:
        return str(err)
    return None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        signing.verifier(args.public_key)
    except signing.KeyFileError as err:
        cli.fail(f"verify: {err}", cli.BAD_ARGS)
    problem = check(args.dir, args.public_key, args.model, args.revision)
    line = f"model {args.model} revision {args.revision}: {problem}"
    if problem:
        print(line, file=sys.stderr, flush=True)
    if args.pushgateway:
        grouping = {"model": args.model, "revision": args.revision}
        pushed = cli.push(args.pushgateway, JOB, grouping, {SERIES: 1.0 if problem else 0.0})
        if pushed:
            print(f"verify: {pushed}", file=sys.stderr)
    if problem:
        return cli.FAILED
    _, _, entries = manifest.read(args.dir)
    size = sum(e.size for e in entries) / (1 << 20)
    print(f"model {args.model} revision {args.revision}: signature and every hash verified "
          f"({len(entries)} files, {size:.1f} MiB)")
    return cli.OK


if __name__ == "__main__":
    sys.exit(main())
