"""Dataset downloads: a resumable, verified, parallel HTTP fetcher and the three services the real
datasets live on (NSRR for MESA/STAGES, Kaggle for CMIDSS, PhysioNet for YSYW)."""

from .http import DownloadReport, HttpSource, RemoteFile, download_files, fetch_file

__all__ = ["DownloadReport", "HttpSource", "RemoteFile", "download_files", "fetch_file"]
