"""Kaggle competition files (CMIDSS): listing and download with the user's API credentials.

Credentials come from the environment variables ``KAGGLE_USERNAME`` and ``KAGGLE_KEY`` (an API token
from kaggle.com -> Settings -> API). The competition rules must have been accepted on the website, or
Kaggle answers 403. Kaggle lists sizes but no checksums, so files are verified by size; a file Kaggle
sends zipped is unpacked after download.

* ``GET <api>/competitions/data/list/<competition>`` -> ``[{"name"|"ref", "totalBytes"}, ...]``
  (or ``{"files": [...]}``)
* ``GET <api>/competitions/data/download/<competition>/<file>`` -> the file (often via a redirect to
  storage; the Basic-auth header is not forwarded there)
"""

from __future__ import annotations

import base64
import os
import urllib.parse
import zipfile
from pathlib import Path

from ..errors import SleepkitError
from ..fsutil import atomic_path
from ..log import logger
from .http import HttpSource, RemoteFile


class KaggleClient:
    def __init__(self, competition: str, api_url: str = "https://www.kaggle.com/api/v1",
                 user_env: str = "KAGGLE_USERNAME", key_env: str = "KAGGLE_KEY", timeout: float = 60.0) -> None:
        self.competition = competition
        self.api = api_url.rstrip("/")
        self.timeout = timeout
        user, key = os.environ.get(user_env, "").strip(), os.environ.get(key_env, "").strip()
        if not (user and key):
            raise SleepkitError(
                f"downloading the Kaggle competition '{competition}' needs your Kaggle API credentials in the "
                f"environment variables {user_env} and {key_env} (kaggle.com -> Settings -> API -> Create New "
                f"Token), and the competition rules accepted at "
                f"https://www.kaggle.com/competitions/{competition}/rules"
            )
        auth = base64.b64encode(f"{user}:{key}".encode()).decode()
        self.source = HttpSource(
            name=f"kaggle/{competition}",
            auth_headers={"Authorization": f"Basic {auth}"},
            secrets=[key, auth],
            access_hint=f"Check {user_env}/{key_env} and accept the rules at "
                        f"https://www.kaggle.com/competitions/{competition}/rules",
        )

    def remote_files(self, names: list[str] | None = None) -> list[RemoteFile]:
        answer = self.source.get_json(f"{self.api}/competitions/data/list/{self.competition}", self.timeout)
        items = answer.get("files", []) if isinstance(answer, dict) else answer
        if not isinstance(items, list):
            raise SleepkitError(f"{self.source.name}: unexpected file listing: {str(answer)[:200]}")
        listed = {}
        for item in items:
            name = item.get("name") or item.get("ref")
            size = item.get("totalBytes", item.get("size"))
            listed[name] = int(size) if isinstance(size, (int, float)) or str(size).isdigit() else None
        wanted = names or sorted(listed)
        missing = [n for n in wanted if n not in listed]
        if missing:
            raise SleepkitError(f"{self.source.name}: files {missing} not in the competition listing "
                                f"({', '.join(sorted(listed))})")
        return [
            RemoteFile(url=f"{self.api}/competitions/data/download/{self.competition}/{urllib.parse.quote(n)}",
                       path=n, size=listed[n])
            for n in wanted
        ]


def unzip_in_place(path: Path) -> bool:
    """If ``path`` holds a zip archive (Kaggle zips large files), replace it by its single member."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04" or path.suffix == ".zip":
            return False
    with zipfile.ZipFile(path) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) != 1:
            raise SleepkitError(f"{path}: Kaggle sent a zip with {len(members)} files, expected one")
        with atomic_path(path) as tmp, zf.open(members[0]) as src, open(tmp, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
    logger.info("%s: unpacked the zip Kaggle sent", path.name)
    return True
