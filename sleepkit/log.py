"""Logging: rich output on the console, a plain copy in ``job_dir/<mode>.log``."""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

console = Console(stderr=True)
logger = logging.getLogger("sleepkit")


def setup_logging(job_dir: Path | None, mode: str, verbose: int = 1) -> Path | None:
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose >= 1 else logging.WARNING
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    ch = RichHandler(console=console, show_path=False, rich_tracebacks=False, markup=False)
    ch.setLevel(level)
    logger.addHandler(ch)
    log_path = None
    if job_dir is not None:
        job_dir = Path(job_dir)
        job_dir.mkdir(parents=True, exist_ok=True)
        log_path = job_dir / f"{mode}.log"
        fh = logging.FileHandler(log_path, mode="a", encoding="utf-8")
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        fh.setLevel(logging.DEBUG)
        logger.addHandler(fh)
    return log_path
