"""PhysioNet open-access projects (YSYW = challenge-2018): file list and SHA-256 sums from the
project's ``SHA256SUMS.txt``; no account needed."""

from __future__ import annotations

import urllib.parse
from typing import Callable

from ..errors import SleepkitError
from .http import HttpSource, RemoteFile


def physionet_files(project: str, version: str, base_url: str = "https://physionet.org/files",
                    keep: Callable[[str], bool] | None = None, timeout: float = 60.0) -> tuple[HttpSource, list[RemoteFile]]:
    root = f"{base_url.rstrip('/')}/{project}/{version}/"
    source = HttpSource(name=f"physionet/{project}")
    with source.open(root + "SHA256SUMS.txt", timeout) as resp:
        text = resp.read().decode("utf-8", "replace")
    files: list[RemoteFile] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise SleepkitError(f"{root}SHA256SUMS.txt line {n}: expected '<sha256> <path>', got {line[:80]!r}")
        digest, path = parts[0], parts[1].strip().lstrip("*")
        if keep is not None and not keep(path):
            continue
        files.append(RemoteFile(url=root + urllib.parse.quote(path), path=path, sha256=digest))
    return source, files
