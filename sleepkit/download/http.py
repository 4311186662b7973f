"""Resumable, verified, parallel HTTP downloads (standard library only).

* A file is fetched into ``<name>.part`` beside its destination. An interrupted transfer (dropped
  connection, short read, Ctrl-C) leaves the ``.part``; the next attempt — a retry in this run or a
  later run — asks for the rest with ``Range: bytes=<have>-`` and appends. A server that ignores
  Range (200 instead of 206) gets a fresh transfer, logged.
* The finished ``.part`` is checked against the listed size and checksum (MD5 or SHA-256) and only
  then renamed onto the destination (atomic). A mismatch deletes the ``.part`` and downloads once
  more from scratch; a second mismatch is an error naming the file and both checksums.
* A finished destination file is never overwritten unless ``force`` is set (then it is replaced
  only by a verified new copy). One whose size disagrees with the listing is kept and reported.
* Files run in a thread pool with one rich progress bar over all bytes. Secrets (tokens) never
  appear in messages: every message passes through ``HttpSource.clean``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SleepkitError
from ..log import logger

CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    url: str
    path: str  # destination, relative to the dataset folder (POSIX separators)
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None


@dataclass
class HttpSource:
    """How to talk to one server: headers, secrets to hide, what an access failure means."""

    name: str
    headers: dict[str, str] = field(default_factory=dict)  # sent on every request
    auth_headers: dict[str, str] = field(default_factory=dict)  # not forwarded to redirect targets
    secrets: list[str] = field(default_factory=list)
    access_hint: str = ""  # appended to 401/403 errors
    reject_html: bool = False  # an HTML answer for a data file means "no access" (NSRR redirects)

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def request(self, url: str, extra: dict[str, str] | None = None) -> urllib.request.Request:
        req = urllib.request.Request(url, headers={"User-Agent": "sleepkit", **self.headers, **(extra or {})})
        for k, v in self.auth_headers.items():
            req.add_unredirected_header(k, v)
        return req

    def open(self, url: str, timeout: float = 60.0, extra: dict[str, str] | None = None):
        try:
            return urllib.request.urlopen(self.request(url, extra), timeout=timeout)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise SleepkitError(self.clean(
                    f"{self.name}: access refused (HTTP {exc.code}) for {url}. {self.access_hint}".strip()
                )) from None
            raise
        except (urllib.error.URLError, OSError) as exc:
            raise SleepkitError(self.clean(f"{self.name}: cannot reach {url}: {exc}")) from None

    def get_json(self, url: str, timeout: float = 60.0):
        import json

        with self.open(url, timeout) as resp:
            body = resp.read()
        try:
            return json.loads(body)
        except ValueError:
            raise SleepkitError(self.clean(f"{self.name}: {url} did not answer with JSON")) from None


@dataclass
class DownloadReport:
    files: int = 0
    downloaded: int = 0
    resumed: int = 0
    skipped: int = 0
    bytes: int = 0
    kept_mismatch: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "downloaded": self.downloaded,
            "resumed": self.resumed,
            "skipped_existing": self.skipped,
            "kept_size_mismatch": len(self.kept_mismatch),
            "mb_downloaded": round(self.bytes / 1e6, 3),
        }


class _Transient(Exception):
    """A failure worth retrying (dropped connection, short read, 5xx)."""


def _checksum(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _verify(f: RemoteFile, part: Path) -> str | None:
    """None if ``part`` matches the listing, else what is wrong."""
    size = part.stat().st_size
    if f.size is not None and size != f.size:
        return f"size {size} bytes, listed {f.size}"
    for algo, want in (("md5", f.md5), ("sha256", f.sha256)):
        if want:
            got = _checksum(part, algo)
            if got.lower() != want.lower():
                return f"{algo} {got}, listed {want}"
    return None


class _Progress:
    """One rich bar over all bytes (or nothing, when disabled)."""

    def __init__(self, enabled: bool, total: int | None, label: str) -> None:
        self._bar = None
        self._lock = threading.Lock()
        if enabled:
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                       TransferSpeedColumn)

            from ..log import console

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=False)
            self._task = self._bar.add_task(label, total=total)

    def __enter__(self):
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)


def _transfer(f: RemoteFile, part: Path, source: HttpSource, timeout: float, progress: _Progress) -> tuple[int, bool]:
    """Fetch what ``part`` lacks. Returns (bytes received, resumed?)."""
    have = part.stat().st_size if part.exists() else 0
    if f.size is not None and have > f.size:
        logger.info("%s: partial file larger than listed; starting over", f.path)
        part.unlink()
        have = 0
    if f.size is not None and have == f.size and have > 0:
        return 0, True  # a complete .part from an earlier run: verify it
    extra = {"Range": f"bytes={have}-"} if have else {}
    try:
        resp = urllib.request.urlopen(source.request(f.url, extra), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return 0, True  # nothing left to send: verification decides
        if exc.code == 429 or exc.code >= 500:
            raise _Transient(f"HTTP {exc.code}") from None
        hint = f" {source.access_hint}" if exc.code in (401, 403) else ""
        raise SleepkitError(source.clean(f"{source.name}: HTTP {exc.code} for {f.path} ({f.url}).{hint}")) from None
    except (urllib.error.URLError, OSError) as exc:
        raise _Transient(f"cannot connect ({getattr(exc, 'reason', exc)})") from None
    received = 0
    with resp:
        ctype = resp.headers.get("Content-Type", "")
        if source.reject_html and "text/html" in ctype and not f.path.endswith((".html", ".htm")):
            raise SleepkitError(source.clean(
                f"{source.name}: the server answered {f.path} with a web page instead of the file; "
                f"the token has no access to this dataset. {source.access_hint}".strip()
            ))
        resumed = False
        mode = "wb"
        if have and resp.status == 206:
            start = _content_range_start(resp.headers.get("Content-Range", ""))
            if start == have:
                mode, resumed = "ab", True
                progress.advance(have)
            else:
                logger.info("%s: server resumed at byte %s, not %d; starting over", f.path, start, have)
        elif have:
            logger.info("%s: server ignored the Range request; downloading from the start", f.path)
        expected = resp.headers.get("Content-Length")
        try:
            with open(part, mode) as fh:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    fh.write(chunk)
                    received += len(chunk)
                    progress.advance(len(chunk))
        except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError, OSError) as exc:
            raise _Transient(f"transfer interrupted after {received} bytes ({type(exc).__name__})") from None
        if expected is not None and expected.isdigit() and received < int(expected):
            raise _Transient(f"transfer interrupted after {received} of {expected} bytes")
    return received, resumed


def _content_range_start(value: str) -> int | None:
    # "bytes 100-999/1000"
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def fetch_file(
    f: RemoteFile,
    dest: Path,
    source: HttpSource,
    force: bool = False,
    retries: int = 3,
    timeout: float = 60.0,
    progress: _Progress | None = None,
    backoff: float = 1.0,
) -> tuple[str, int]:
    """Download one file. Returns (state, bytes received); state is downloaded | resumed | skipped |
    kept_mismatch."""
    progress = progress or _Progress(False, None, "")
    target = dest / f.path
    if target.exists() and not force:
        if f.size is not None and target.stat().st_size != f.size:
            logger.warning("%s exists with %d bytes but the listing says %d; kept untouched (set force_download "
                           "to replace it)", target, target.stat().st_size, f.size)
            return "kept_mismatch", 0
        return "skipped", 0
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    got = 0
    resumed_any = False
    fresh_after_mismatch = False
    while True:
        attempt = 0
        while True:
            try:
                n, resumed = _transfer(f, part, source, timeout, progress)
                got += n
                resumed_any |= resumed
                break
            except _Transient as exc:
                attempt += 1
                if attempt > retries:
                    raise SleepkitError(source.clean(
                        f"{source.name}: {f.path}: {exc}; gave up after {retries} retries. The partial file "
                        f"{part.name} is kept: run download again to resume."
                    )) from None
                logger.info("%s: %s; retry %d/%d resumes from %d bytes", f.path, exc, attempt, retries,
                            part.stat().st_size if part.exists() else 0)
                time.sleep(backoff * attempt)
        problem = _verify(f, part)
        if problem is None:
            break
        part.unlink()
        if fresh_after_mismatch:
            raise SleepkitError(f"{source.name}: {f.path} failed verification twice ({problem}); nothing was written")
        logger.warning("%s: downloaded file failed verification (%s); downloading it again from scratch", f.path, problem)
        fresh_after_mismatch = True
    os.replace(part, target)
    return ("resumed" if resumed_any else "downloaded"), got


def download_files(
    files: list[RemoteFile],
    dest: str | os.PathLike,
    source: HttpSource,
    force: bool = False,
    num_workers: int = 4,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 0.5,
) -> DownloadReport:
    """Fetch ``files`` under ``dest`` in parallel; see the module docstring for the guarantees."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    report = DownloadReport(files=len(files))
    todo = [f for f in files if force or not (dest / f.path).exists()]
    need = 0
    unknown = 0
    for f in todo:
        if f.size is None:
            unknown += 1
            continue
        part = (dest / f.path).with_name(Path(f.path).name + ".part")
        need += max(f.size - (part.stat().st_size if part.exists() else 0), 0)
    free = shutil.disk_usage(dest).free
    if need > free:
        raise SleepkitError(
            f"{source.name}: {len(todo)} files need {need / 1e9:.1f} GB but {dest} has {free / 1e9:.1f} GB free"
        )
    logger.info("%s: %d files listed, %d to fetch (%.2f GB%s), %d already present", source.name, len(files),
                len(todo), need / 1e9, f" + {unknown} of unknown size" if unknown else "", len(files) - len(todo))
    errors: list[str] = []
    with _Progress(progress and bool(todo), need or None, source.name) as bar:
        with ThreadPoolExecutor(max_workers=max(1, int(num_workers))) as pool:
            futures = {pool.submit(fetch_file, f, dest, source, force, retries, timeout, bar, backoff): f
                       for f in files}
            for fut in as_completed(futures):
                f = futures[fut]
                try:
                    state, n = fut.result()
                except SleepkitError as exc:
                    errors.append(str(exc))
                    continue
                report.bytes += n
                if state == "skipped":
                    report.skipped += 1
                elif state == "kept_mismatch":
                    report.kept_mismatch.append(f.path)
                else:
                    report.downloaded += 1
                    report.resumed += state == "resumed"
    if errors:
        shown = "\n  ".join(errors[:10])
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise SleepkitError(f"{source.name}: {len(errors)} of {len(files)} files failed:\n  {shown}{more}")
    logger.info("%s: %s", source.name, report.as_dict())
    return report
