"""Sign and verify a model directory with OpenSSF model-signing (model-signing==1.1.1, its
public API: model_signing/signing.py and verifying.py) and an elliptic-curve key pair: no
Sigstore, since an air-gapped cluster cannot reach its services.

The library hashes every file of the directory itself (SHA-256 per file, its default
"files" serialization: model_signing/hashing.py:139-144, 278-319) and signs that list as an
in-toto statement in a DSSE envelope (model_signing/_signing/sign_ec_key.py:100-127). The
directory includes manifest.json, so the signature covers our manifest too; only model.sig,
which cannot sign itself, is left out. Git's files are NOT left out (the library leaves them
out by default, hashing.py:166-176): a Hub snapshot's .gitattributes is part of the revision.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import sys
from pathlib import Path

from model_signing import hashing, signing, verifying

from components.lifecycle.cli import first_line
from components.lifecycle.manifest import SIGNATURE


class KeyFileError(Exception):
    """The key file cannot be used: an argument problem (exit 2), not the revision's."""


class VerificationError(Exception):
    """One line: the file the library named and what is wrong with it."""


def _hashing() -> hashing.Config:
    # model_signing==1.1.1 hashing.py:378-402 (set_ignored_paths): paths relative to the model
    # directory; the verifier adds the signed ignore list back (verifying.py:102-106).
    return hashing.Config().set_ignored_paths(paths=[SIGNATURE], ignore_git_paths=False)


@contextlib.contextmanager
def _library_output():
    """The EC verifier prints a warning to stdout for an old signature format
    (sign_ec_key.py:179-184); our stdout is the one line a failure prints, so the library's
    chatter goes to stderr."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        yield
    if captured.getvalue().strip():
        print(captured.getvalue().strip(), file=sys.stderr)


def signer(private_key: Path) -> signing.Config:
    """The signing configuration for a PEM private key, loaded now so a bad key is an
    argument error before any download (ec_key.Signer loads and checks the curve on
    construction: sign_ec_key.py:85-97; P-256, P-384 and P-521 only, :36-51)."""
    try:
        # signing.py:190-206 (use_elliptic_key_signer), :112-122 (set_hashing_config)
        return signing.Config().set_hashing_config(_hashing()).use_elliptic_key_signer(
            private_key=private_key
        )
    except (OSError, ValueError, TypeError) as err:
        raise KeyFileError(f"signing key {private_key}: {first_line(err)}") from None


def verifier(public_key: Path) -> verifying.Config:
    """The verifying configuration for a PEM public key, loaded now (sign_ec_key.py:149-159)."""
    try:
        # verifying.py:251-269 (use_elliptic_key_verifier), :164-178 (set_hashing_config)
        return verifying.Config().set_hashing_config(_hashing()).use_elliptic_key_verifier(
            public_key=public_key
        )
    except (OSError, ValueError, TypeError) as err:
        raise KeyFileError(f"public key {public_key}: {first_line(err)}") from None


def sign(model_dir: Path, private_key: Path) -> Path:
    """Write `model_dir/model.sig` over every file of `model_dir` (manifest.json included)."""
    target = model_dir / SIGNATURE
    with _library_output():
        signer(private_key).sign(model_dir, target)  # signing.py:96-110
    return target


def verify(model_dir: Path, public_key: Path) -> None:
    """Raise VerificationError with one line unless model.sig is a signature by `public_key`
    over exactly the files of `model_dir`, byte for byte."""
    config = verifier(public_key)
    # The library names the model by the directory's last component (file.py:150-152).
    model_dir = model_dir.resolve()
    signature = model_dir / SIGNATURE
    if not signature.is_file():
        raise VerificationError(f"{SIGNATURE}: missing, the revision is unsigned")
    try:
        with _library_output():
            config.verify(model_dir, signature)  # verifying.py:79-124
    except ValueError as err:
        raise VerificationError(_explain(str(err), model_dir.name)) from None
    except Exception as err:  # noqa: BLE001 - cryptography's InvalidSignature and the bundle's parse errors
        name = type(err).__name__
        detail = "the signature does not match its payload" if name == "InvalidSignature" \
            else f"unreadable ({name}: {first_line(err)})"
        raise VerificationError(f"{SIGNATURE}: {detail}") from None


# verifying.py:120-124 raises ValueError(f"Signature mismatch: {diffs}"), diffs a list of
# strings (:126-162): extra files, missing files, and one "Hash mismatch for '<id>': ..." each.
MISMATCH = "Signature mismatch: "
HASH = re.compile(r"^Hash mismatch for '(.*)': Expected '")


def _explain(message: str, model_name: str) -> str:
    if message.startswith("Key mismatch"):  # sign_ec_key.py:170-177
        return f"{SIGNATURE}: signed by another key than the one given"
    if not message.startswith(MISMATCH):
        return f"{SIGNATURE}: {first_line(message)}"
    try:
        diffs = ast.literal_eval(message.removeprefix(MISMATCH))
    except (ValueError, SyntaxError):
        return f"{SIGNATURE}: {first_line(message)}"
    extra = f"Extra files found in model '{model_name}': "
    missing = f"Missing files in model '{model_name}': "
    parts = []
    for diff in diffs:
        if diff.startswith(missing):
            parts.append(f"{diff.removeprefix(missing)}: missing")
        elif diff.startswith(extra):
            parts.append(f"{diff.removeprefix(extra)}: not signed (an extra file)")
        elif found := HASH.match(diff):
            parts.append(f"{found.group(1)}: hash mismatch")
        else:
            parts.append(first_line(diff))
    return "; ".join(parts)
