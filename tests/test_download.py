"""Download mode, offline: a local HTTP server on 127.0.0.1 (random free port) plays sleepdata.org
(NSRR API), Kaggle and PhysioNet. Covers resume after an interrupted transfer (Range), resume from a
.part left by an earlier run, checksum mismatch, never clobbering a finished file, missing/rejected
token, no access (HTML answer), Kaggle zip + Basic auth not forwarded on redirect, disk-space check
and the mode's summary."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from sleepkit.datasets.cmidss import CmidssDataset
from sleepkit.datasets.mesa import MesaDataset
from sleepkit.datasets.stages import StagesDataset
from sleepkit.errors import SleepkitError
from sleepkit.params import load_params

TOKEN = "tok-SECRET-123"
KAGGLE_USER, KAGGLE_KEY = "alice", "kaggle-SECRET-key"


def _blob(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


class FakeServer:
    """Serves ``files`` (path -> bytes) through NSRR-, Kaggle- and PhysioNet-shaped URLs."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.listed_size: dict[str, int] = {}  # override the size in the listing
        self.truncate_once: set[str] = set()  # first full transfer stops halfway
        self.corrupt: set[str] = set()  # served bytes differ from the listed checksum
        self.zipped: set[str] = set()  # Kaggle sends these zipped
        self.deny_files = False  # NSRR file URLs answer with a web page (no access)
        self.requests: list[tuple[str, str | None, str | None]] = []  # (path, Range, Authorization)
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                server.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def hits(self, path: str) -> list[tuple[str, str | None, str | None]]:
        return [r for r in self.requests if r[0] == path]

    # ---------------------------------------------------------------------------------------
    def _json(self, h, obj, code=200):
        body = json.dumps(obj).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _send_file(self, h, path: str, data: bytes):
        start = 0
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                h.send_response(416)
                h.end_headers()
                return
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        body = data[start:]
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        with self.lock:
            cut = path in self.truncate_once and start == 0
            if cut:
                self.truncate_once.discard(path)
        h.wfile.write(body[: len(body) // 2] if cut else body)
        h.close_connection = True

    def handle(self, h) -> None:
        url = urllib.parse.urlsplit(h.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        path = urllib.parse.unquote(url.path)
        with self.lock:
            self.requests.append((path, h.headers.get("Range"), h.headers.get("Authorization")))
        # --- NSRR -------------------------------------------------------------------------
        if path == "/api/v1/account/profile.json":
            return self._json(h, {"authenticated": query.get("auth_token") == TOKEN, "username": "tester"})
        if path.startswith("/api/v1/datasets/") and path.endswith("/files.json"):
            folder = query.get("path", "").strip("/")
            children: dict[str, dict] = {}
            for full, data in self.files.items():
                if not full.startswith(folder + "/"):
                    continue
                rest = full[len(folder) + 1:]
                name = rest.split("/", 1)[0]
                is_file = "/" not in rest
                children[name] = {
                    "file_name": name, "full_path": f"{folder}/{name}", "is_file": is_file,
                    "file_size": self.listed_size.get(full, len(data)) if is_file else None,
                    "file_checksum_md5": hashlib.md5(data).hexdigest() if is_file else None,
                }
            return self._json(h, list(children.values()))
        if path.startswith("/datasets/") and "/files/a/" in path:
            token = path.split("/files/a/", 1)[1].split("/", 1)[0]
            full = path.split("/m/sleepkit/", 1)[1]
            if token != TOKEN or full not in self.files or self.deny_files:
                body = b"<html><body>Request access</body></html>"
                h.send_response(200)
                h.send_header("Content-Type", "text/html; charset=utf-8")
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)
                return
            data = self.files[full]
            return self._send_file(h, full, _blob(len(data), 99) if full in self.corrupt else data)
        # --- Kaggle -----------------------------------------------------------------------
        if path.startswith("/api/v1/competitions/"):
            want = "Basic " + base64.b64encode(f"{KAGGLE_USER}:{KAGGLE_KEY}".encode()).decode()
            if h.headers.get("Authorization") != want:
                return self._json(h, {"message": "Unauthorized"}, 401)
            if "/data/list/" in path:
                return self._json(h, [{"name": n, "totalBytes": len(d)} for n, d in self.files.items()])
            name = path.rsplit("/", 1)[1]
            h.send_response(302)
            h.send_header("Location", f"{self.url}/storage/{name}?sig=abc")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if path.startswith("/storage/"):
            name = path.split("/storage/", 1)[1]
            data = self.files[name]
            if name in self.zipped:
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w") as zf:
                    zf.writestr(name, data)
                data = buf.getvalue()
            return self._send_file(h, name, data)
        # --- PhysioNet --------------------------------------------------------------------
        prefix = "/files/challenge-2018/1.0.0/"
        if path == prefix + "SHA256SUMS.txt":
            lines = [f"{hashlib.sha256(d).hexdigest()} {p}" for p, d in self.files.items()]
            body = ("\n".join(lines) + "\n").encode()
            h.send_response(200)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        if path.startswith(prefix) and path[len(prefix):] in self.files:
            rel = path[len(prefix):]
            return self._send_file(h, rel, self.files[rel])
        h.send_response(404)
        h.send_header("Content-Length", "0")
        h.end_headers()


@pytest.fixture
def server():
    srv = FakeServer()
    yield srv
    srv.close()


@pytest.fixture
def sk_log(caplog):
    logger = logging.getLogger("sleepkit")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="sleepkit")
    yield caplog
    logger.removeHandler(caplog.handler)


def _mesa_files(server: FakeServer) -> dict[str, bytes]:
    files = {
        "polysomnography/edfs/mesa-sleep-0001.edf": _blob(300_000, 1),
        "polysomnography/edfs/mesa-sleep-0002.edf": _blob(120_000, 2),
        "polysomnography/annotations-events-nsrr/mesa-sleep-0001-nsrr.xml": _blob(5_000, 3),
        "polysomnography/annotations-events-nsrr/mesa-sleep-0002-nsrr.xml": _blob(4_000, 4),
        "actigraphy/mesa-sleep-0001.csv": _blob(2_000, 5),
        "overlap/mesa-actigraphy-psg-overlap.csv": _blob(100, 6),
        "polysomnography/annotations-events-profusion/mesa-sleep-0001-profusion.xml": _blob(100, 7),
    }
    server.files.update(files)
    return files


def test_nsrr_resume_after_interruption_and_never_clobber(server, tmp_path, monkeypatch, sk_log):
    files = _mesa_files(server)
    monkeypatch.setenv("NSRR_TOKEN", TOKEN)
    dest = tmp_path / "mesa"
    edf = "polysomnography/edfs/mesa-sleep-0001.edf"
    server.truncate_once.add(edf)
    finished = dest / "polysomnography/annotations-events-nsrr/mesa-sleep-0002-nsrr.xml"
    finished.parent.mkdir(parents=True)
    finished.write_bytes(b"x" * 4_000)  # same size as listed, different bytes: it is not touched
    ds = MesaDataset(path=dest, nsrr_url=server.url)
    report = ds.download(dest, num_workers=3, progress=False)
    assert report["files"] == 6 and report["downloaded"] == 5 and report["skipped_existing"] == 1
    assert report["resumed"] == 1
    for rel, data in files.items():
        if "profusion" in rel:
            assert not (dest / rel).exists()  # only the folders MESA needs
        elif rel != finished.relative_to(dest).as_posix():
            assert (dest / rel).read_bytes() == data
    assert finished.read_bytes() == b"x" * 4_000
    edf_hits = [h for h in server.hits(f"/datasets/mesa/files/a/{TOKEN}/m/sleepkit/{edf}")]
    assert [h[1] for h in edf_hits] == [None, "bytes=150000-"]  # resumed where the transfer stopped
    assert not server.hits(f"/datasets/mesa/files/a/{TOKEN}/m/sleepkit/{finished.relative_to(dest).as_posix()}")
    assert not list(dest.rglob("*.part"))
    assert TOKEN not in sk_log.text
    # a rerun fetches nothing
    before = len(server.requests)
    again = ds.download(dest, progress=False)
    assert again["skipped_existing"] == 6 and again["downloaded"] == 0
    assert all("/files/a/" not in r[0] for r in server.requests[before:])


def test_resume_from_part_left_by_an_earlier_run_and_subject_filter(server, tmp_path, monkeypatch):
    files = _mesa_files(server)
    monkeypatch.setenv("NSRR_TOKEN", TOKEN)
    dest = tmp_path / "mesa"
    rel = "polysomnography/edfs/mesa-sleep-0002.edf"
    part = dest / (rel + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(files[rel][:1000])
    report = MesaDataset(path=dest, nsrr_url=server.url, subjects=["2"], actigraphy=False).download(dest, progress=False)
    assert report["files"] == 2 and report["resumed"] == 1
    assert (dest / rel).read_bytes() == files[rel]
    assert [h[1] for h in server.hits(f"/datasets/mesa/files/a/{TOKEN}/m/sleepkit/{rel}")] == ["bytes=1000-"]


def test_checksum_mismatch_is_an_error_and_writes_nothing(server, tmp_path, monkeypatch):
    files = _mesa_files(server)
    monkeypatch.setenv("NSRR_TOKEN", TOKEN)
    rel = "actigraphy/mesa-sleep-0001.csv"
    server.corrupt.add(rel)
    dest = tmp_path / "mesa"
    with pytest.raises(SleepkitError) as err:
        MesaDataset(path=dest, nsrr_url=server.url).download(dest, progress=False)
    msg = str(err.value)
    assert rel in msg and "md5" in msg and hashlib.md5(files[rel]).hexdigest() in msg
    assert not (dest / rel).exists() and not (dest / (rel + ".part")).exists()
    assert len(server.hits(f"/datasets/mesa/files/a/{TOKEN}/m/sleepkit/{rel}")) == 2  # one fresh retry
    assert (dest / "overlap/mesa-actigraphy-psg-overlap.csv").exists()  # the other files completed
    assert TOKEN not in msg


def test_missing_rejected_and_unapproved_tokens(server, tmp_path, monkeypatch):
    _mesa_files(server)
    monkeypatch.delenv("NSRR_TOKEN", raising=False)
    with pytest.raises(SleepkitError, match=r"NSRR_TOKEN.*/token"):
        MesaDataset(path=tmp_path, nsrr_url=server.url).download(tmp_path, progress=False)
    assert server.requests == []  # nothing sent without a token
    monkeypatch.setenv("NSRR_TOKEN", "wrong")
    with pytest.raises(SleepkitError, match="rejected the NSRR token"):
        MesaDataset(path=tmp_path, nsrr_url=server.url).download(tmp_path, progress=False)
    # STAGES: the token is valid but the dataset is not approved: files answer with a web page
    monkeypatch.setenv("NSRR_TOKEN", TOKEN)
    server.files.clear()
    server.files["original/STAGES PSGs/BOGN/BOGN00004.edf"] = _blob(1000, 8)
    server.files["original/STAGES PSGs/BOGN/BOGN00004_1.edf"] = _blob(1000, 9)  # MSLT nap: not fetched
    server.deny_files = True
    with pytest.raises(SleepkitError, match=r"web page.*no access.*stages"):
        StagesDataset(path=tmp_path / "stages", nsrr_url=server.url).download(tmp_path / "stages", progress=False)
    fetched = [r[0] for r in server.requests if "/files/a/" in r[0]]
    assert fetched == [f"/datasets/stages/files/a/{TOKEN}/m/sleepkit/original/STAGES PSGs/BOGN/BOGN00004.edf"]
    assert not list((tmp_path / "stages").rglob("*.edf"))


def test_disk_space_is_checked_before_fetching(server, tmp_path, monkeypatch):
    _mesa_files(server)
    monkeypatch.setenv("NSRR_TOKEN", TOKEN)
    server.listed_size["polysomnography/edfs/mesa-sleep-0001.edf"] = 10**16
    with pytest.raises(SleepkitError, match=r"need 10000000\.\d GB but .* free"):
        MesaDataset(path=tmp_path, nsrr_url=server.url).download(tmp_path, progress=False)
    assert not any("/files/a/" in r[0] for r in server.requests)


def test_kaggle_zip_auth_not_forwarded_and_missing_credentials(server, tmp_path, monkeypatch):
    series, events = _blob(50_000, 10), b"series_id,night,event,step,timestamp\n"
    server.files.update({"train_series.parquet": series, "train_events.csv": events, "test_series.parquet": b"t"})
    server.zipped.add("train_series.parquet")
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    ds = CmidssDataset(path=tmp_path / "cmidss", kaggle_url=server.url + "/api/v1")
    with pytest.raises(SleepkitError, match=r"KAGGLE_USERNAME and KAGGLE_KEY.*rules"):
        ds.download(progress=False)
    monkeypatch.setenv("KAGGLE_USERNAME", KAGGLE_USER)
    monkeypatch.setenv("KAGGLE_KEY", "wrong")
    with pytest.raises(SleepkitError, match=r"HTTP 401.*rules"):
        ds.download(progress=False)
    monkeypatch.setenv("KAGGLE_KEY", KAGGLE_KEY)
    report = ds.download(progress=False)
    assert report["downloaded"] == 2
    assert (tmp_path / "cmidss/train_series.parquet").read_bytes() == series  # unzipped
    assert (tmp_path / "cmidss/train_events.csv").read_bytes() == events
    assert not (tmp_path / "cmidss/test_series.parquet").exists()
    storage = [r for r in server.requests if r[0].startswith("/storage/")]
    assert storage and all(r[2] is None for r in storage)  # credentials stay on the API host


def test_download_mode_summary_physionet_sha256_and_force(server, tmp_path):
    from sleepkit.modes.download import run

    rec = {"training/tr03-0005/tr03-0005.hea": b"tr03-0005 13 200 5147000\n",
           "training/tr03-0005/tr03-0005.arousal": _blob(5000, 11),
           "training/tr03-0005/tr03-0005-arousal.mat": _blob(20000, 12),
           "training/tr03-0006/tr03-0006.hea": b"tr03-0006 13 200 10\n",
           "test/te03-0001/te03-0001.hea": b"x\n"}
    server.files.update(rec)
    dest = tmp_path / "ysyw"
    cfg = {"job_dir": str(tmp_path / "job"), "num_workers": 2, "datasets": [
        {"name": "ysyw", "params": {"path": str(dest), "subjects": ["tr03-0005"],
                                    "physionet_url": server.url + "/files"}}]}
    summary = run(load_params(cfg))
    assert summary["ysyw"]["files"] == 3 and summary["ysyw"]["downloaded"] == 3
    for rel in list(rec)[:3]:
        assert (dest / rel).read_bytes() == rec[rel]
    assert not (dest / "training/tr03-0006").exists() and not (dest / "test").exists()
    # force_download replaces a finished file, but only with a verified copy
    (dest / "training/tr03-0005/tr03-0005.hea").write_bytes(b"stale")
    again = run(load_params({**cfg, "force_download": True}))
    assert again["ysyw"]["downloaded"] == 3
    assert (dest / "training/tr03-0005/tr03-0005.hea").read_bytes() == rec["training/tr03-0005/tr03-0005.hea"]
    with pytest.raises(SleepkitError, match=r"records \['tr99-9999'\] are not in the training set"):
        run(load_params({**cfg, "datasets": [{"name": "ysyw", "params": {
            "path": str(dest), "subjects": ["tr99-9999"], "physionet_url": server.url + "/files"}}]}))
    with pytest.raises(SleepkitError, match="unexpected keyword"):
        run(load_params({**cfg, "datasets": [{"name": "ysyw", "params": {"pth": "x"}}]}))
    with pytest.raises(SleepkitError, match="no datasets configured"):
        run(load_params({"job_dir": str(tmp_path / "job")}))
    nothing = run(load_params({"job_dir": str(tmp_path / "job"),
                               "datasets": [{"name": "synthetic", "params": {}}]}))
    assert nothing["synthetic"] == "nothing to download"
