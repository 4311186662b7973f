"""``download`` mode: fetch every configured dataset into its ``path``.

Each dataset's ``download(dest, force, num_workers)`` does the work (sleepkit.download): resumable,
size/checksum verified, parallel, with a progress bar; finished files are never overwritten unless
``force_download`` is set. Datasets with nothing to fetch (synthetic, byod) report so.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from ..errors import SleepkitError
from ..log import logger
from ..params import TaskParams

HELP = """Download the configured datasets into each dataset's params.path.

What each dataset needs:
  mesa    NSRR account + approved data access request for MESA;
          token in $NSRR_TOKEN (https://sleepdata.org/token).
          PSG EDFs + XML scoring + actigraphy: ~385 GB, 2,056 nights.
  stages  NSRR account + approved request for STAGES; token in
          $NSRR_TOKEN. Clinical PSGs (original/STAGES PSGs/<site>/):
          hundreds of GB; the exact total is printed from the NSRR
          listing before anything is fetched.
  cmidss  Kaggle account, competition rules accepted
          (child-mind-institute-detect-sleep-states), $KAGGLE_USERNAME
          and $KAGGLE_KEY set. train_series.parquet + train_events.csv:
          ~1 GB. Licence CC BY-NC-SA 4.0 (non-commercial).
  ysyw    No account (PhysioNet open data, ODC-By). 994 training
          records: ~135 GB; restrict with params.subjects.
  synthetic, byod: nothing to download.

params.subjects fetches a subset. Transfers resume after an interruption
(rerun the command); files are verified against the listed size and
MD5/SHA-256; free disk space is checked first; a finished file is never
overwritten unless force_download is true. num_workers = parallel files."""


def _build(ds_cls, kwargs: dict, where: str):
    try:
        inspect.signature(ds_cls).bind(**kwargs)
    except TypeError as exc:
        raise SleepkitError(f"{where}: {exc}") from None
    return ds_cls(**kwargs)


def run(params: TaskParams, task=None) -> dict:
    from ..registry import DatasetFactory

    if not params.datasets:
        raise SleepkitError(
            'no datasets configured: add e.g. "datasets": [{"name": "ysyw", "params": {"path": "data/ysyw", '
            '"subjects": ["tr03-0005"]}}]'
        )
    summary: dict = {}
    workers = max(1, min(int(params.num_workers), 8))  # politeness towards the data servers
    for i, ds_params in enumerate(params.datasets):
        ds_cls = DatasetFactory.get(ds_params.name)
        dataset = _build(ds_cls, dict(ds_params.params), f"datasets[{i}] '{ds_params.name}' params")
        dest = Path(getattr(dataset, "path", None) or Path(params.job_dir) / "datasets" / ds_params.name)
        logger.info("download: %s -> %s", ds_params.name, dest)
        result = dataset.download(dest, force=params.force_download, num_workers=workers)
        summary[ds_params.name] = result if result is not None else "nothing to download"
    return summary
