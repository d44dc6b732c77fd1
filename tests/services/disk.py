"""A really full disk for the tests of the delivery invariant: a small tmpfs mounted
over a state directory, and a filler file that takes its last byte."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services.required import unavailable


@contextmanager
def small_tmpfs(directory: Path, size: str = "1m", *, skip_hint: str = "") -> Iterator[Path]:
    """``directory`` (created here) with a tmpfs of ``size`` (mount's syntax: ``1m`` is
    1 MiB) mounted on it for the block, lazily unmounted after it. When the mount fails
    (not root / no CAP_SYS_ADMIN) the test fails under CI=true and is skipped elsewhere,
    naming mount's error and then ``skip_hint`` (e.g. which test covers the case
    without a mount)."""
    directory.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs here ({done.stderr.strip()}){skip_hint}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path) -> Path:
    """Write a filler file until the file system is full; returns it."""
    filler = directory / "filler"
    chunk = b"\0" * 4096
    with filler.open("wb", buffering=0) as fh:
        while True:
            try:
                fh.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    with filler.open("ab", buffering=0) as fh:  # the last bytes too
        for _ in range(4096):
            try:
                fh.write(b"\0")
            except OSError:
                break
    return filler
