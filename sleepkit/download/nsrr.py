"""NSRR (sleepdata.org) API: token check, folder listings with sizes and MD5s, file URLs.

API (sleepdata.org wiki, api-v1-account / api-v1-datasets):

* ``GET /api/v1/account/profile.json?auth_token=T`` -> ``{"authenticated": true, "username": ...}``
* ``GET /api/v1/datasets/<slug>/files.json?path=P&auth_token=T`` -> the immediate children of folder
  ``P``: ``[{"file_name", "full_path", "is_file", "file_size", "file_checksum_md5"}, ...]``
* ``GET /datasets/<slug>/files/a/<T>/m/<client>/<full_path>`` -> the file. Without access the site
  redirects to a web page, which the downloader reports as "no access".

The token is read from an environment variable (``NSRR_TOKEN`` by default), never from the config, and
never printed: it is part of every download URL, so every message is passed through ``clean``.
"""

from __future__ import annotations

import os
import urllib.parse
from fnmatch import fnmatch
from typing import Callable

from ..errors import SleepkitError
from ..log import logger
from .http import HttpSource, RemoteFile

CLIENT = "sleepkit"


class NsrrClient:
    def __init__(self, slug: str, base_url: str = "https://sleepdata.org", token_env: str = "NSRR_TOKEN",
                 timeout: float = 60.0) -> None:
        self.slug = slug
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        token = os.environ.get(token_env, "").strip()
        if not token:
            raise SleepkitError(
                f"downloading '{slug}' needs your NSRR token in the environment variable {token_env}. "
                f"Request access at {self.base}/datasets/{slug} (approval takes days), copy the token from "
                f"{self.base}/token, then run: export {token_env}=<token>"
            )
        self._token = token
        self.source = HttpSource(
            name=f"nsrr/{slug}",
            secrets=[token, urllib.parse.quote(token, safe="")],
            access_hint=f"Check that your data access request for '{slug}' is approved at "
                        f"{self.base}/datasets/{slug} and that {token_env} holds your current token.",
            reject_html=True,
        )

    def _api(self, endpoint: str, **params) -> object:
        query = urllib.parse.urlencode({**params, "auth_token": self._token})
        return self.source.get_json(f"{self.base}{endpoint}?{query}", self.timeout)

    def check_token(self) -> str:
        """The account name the token belongs to; SleepkitError if sleepdata.org rejects it."""
        answer = self._api("/api/v1/account/profile.json")
        if not isinstance(answer, dict) or not answer.get("authenticated"):
            raise SleepkitError(f"{self.source.name}: sleepdata.org rejected the NSRR token. {self.source.access_hint}")
        return str(answer.get("username", "?"))

    def list_folder(self, folder: str = "", recursive: bool = True) -> list[dict]:
        answer = self._api(f"/api/v1/datasets/{self.slug}/files.json", path=folder)
        if not isinstance(answer, list):
            raise SleepkitError(f"{self.source.name}: unexpected listing for folder '{folder}': {str(answer)[:200]}")
        out: list[dict] = []
        for item in answer:
            if item.get("is_file"):
                out.append(item)
            elif recursive:
                out.extend(self.list_folder(item["full_path"], recursive=True))
        return out

    def file_url(self, full_path: str) -> str:
        return (f"{self.base}/datasets/{self.slug}/files/a/{urllib.parse.quote(self._token, safe='')}/m/{CLIENT}/"
                f"{urllib.parse.quote(full_path, safe='/')}")

    def remote_files(
        self, folders: list[str], keep: Callable[[str], bool] | None = None, pattern: str = "*"
    ) -> list[RemoteFile]:
        """Every file under ``folders`` whose name matches ``pattern`` and ``keep(full_path)``."""
        user = self.check_token()
        logger.info("%s: token accepted for user %s", self.source.name, user)
        files: list[RemoteFile] = []
        for folder in folders:
            for item in self.list_folder(folder):
                full = item["full_path"]
                if not fnmatch(item.get("file_name", full.rsplit("/", 1)[-1]), pattern):
                    continue
                if keep is not None and not keep(full):
                    continue
                size = item.get("file_size")
                files.append(RemoteFile(
                    url=self.file_url(full),
                    path=full,
                    size=int(size) if size not in (None, "") else None,
                    md5=item.get("file_checksum_md5") or None,
                ))
        return files
