"""``feature`` mode: compute a feature set for every subject of every configured dataset.

Output: ``<feature.save_path>/<feature set>/<dataset>/<subject>.h5`` (see ``sleepkit.features.store``),
each written atomically with attributes naming the dataset, feature set, sampling rate, frame size,
hop, sleepkit version, the exact configuration it was computed with and the subject's ``group`` (the
person: ``Recording.meta["group"]``, else the subject id; ``sleepkit.data`` splits by it).

Resumable: a subject whose file exists and was computed with the same configuration is skipped; set
``feature.params.force = true`` to recompute everything. A file computed with a different
configuration is recomputed (and logged). Dataset params listed in the dataset class attribute
``subject_independent_params`` (e.g. ``num_subjects``) do not count as a different configuration. Subjects run in parallel over ``num_workers`` processes
(1 = in this process). A subject that fails is reported with its reason, the others are still
written, and the run ends with a ``SleepkitError`` summarising the failures.
"""

from __future__ import annotations

import inspect
import json
import multiprocessing
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py

from .. import __version__
from ..errors import SleepkitError
from ..features.store import subject_file, write_subject
from ..log import console, logger
from ..params import TaskParams
from ..registry import DatasetFactory, FeatureFactory

# Worker processes are spawned: each re-imports the calling script. Under a script without a main
# guard that re-runs the script in every worker, which dies, and the pool reports only "broken".
BROKEN_POOL_HINT = ("feature worker processes died: out of memory, or this was called from a Python script without "
                    "`if __name__ == \"__main__\":` (workers are spawned and re-import the script); num_workers=1 "
                    "runs without worker processes")


@dataclass
class _Job:
    dataset_name: str
    dataset_cls: Any
    dataset_params: dict
    feature_cls: Any
    feature_kwargs: dict
    subject_id: str
    out_path: Path
    attrs: dict = field(default_factory=dict)


def _build(cls: Any, kwargs: dict, what: str) -> Any:
    """Instantiate ``cls(**kwargs)``; a wrong or missing keyword becomes a SleepkitError naming ``what``."""
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        try:
            accepted = [p for p in inspect.signature(cls).parameters if p not in ("self", "args", "kwargs", "params")]
        except (TypeError, ValueError):
            accepted = []
        hint = f"; accepted: {', '.join(accepted)}" if accepted else ""
        raise SleepkitError(f"{what}: {exc}{hint}") from None
    except ValueError:
        pass  # no introspectable signature (e.g. a C callable): let the call itself report
    return cls(**kwargs)


_DATASET_CACHE: dict[tuple, Any] = {}


def _dataset_for(job: _Job) -> Any:
    # One dataset object per worker process and configuration (building one may scan a folder).
    key = (job.dataset_cls, json.dumps(job.dataset_params, sort_keys=True, default=str))
    if key not in _DATASET_CACHE:
        _DATASET_CACHE[key] = _build(job.dataset_cls, job.dataset_params, f"datasets '{job.dataset_name}' params")
    return _DATASET_CACHE[key]


def _compute_subject(job: _Job) -> dict:
    """Load, compute and write one subject. Never raises: failures come back as ``error``."""
    t0 = time.perf_counter()
    out = {"dataset": job.dataset_name, "subject": job.subject_id, "path": str(job.out_path)}
    try:
        dataset = _dataset_for(job)
        feature_set = job.feature_cls(**job.feature_kwargs)
        recording = dataset.load(job.subject_id)
        frames = feature_set.compute(recording)
        attrs = {
            **job.attrs,
            "subject": job.subject_id,
            "source": recording.source,
            # The person the recording belongs to (several nights of one person share it), so splits
            # can keep a person on one side; datasets without the notion give the subject itself.
            "group": str((recording.meta or {}).get("group") or job.subject_id),
            "mask_reasons": json.dumps(frames.mask_reasons, sort_keys=True),
        }
        write_subject(job.out_path, frames, attrs)
        out.update(
            frames=int(len(frames.mask)),
            masked=int(len(frames.mask) - int(frames.mask.sum())),
            reasons=dict(frames.mask_reasons),
            signal_seconds=float(recording.duration),
        )
    except SleepkitError as exc:
        out["error"] = str(exc)
    except Exception as exc:  # a bug or an unreadable input we did not foresee: report, keep going
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    out["elapsed"] = time.perf_counter() - t0
    return out


def _existing_matches(path: Path, config_key: str) -> bool | None:
    """True: file exists with this configuration; False: exists with another (or unreadable); None: absent."""
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r") as h5:
            stored = h5.attrs.get("config")
            has_group = "group" in h5.attrs
    except OSError:
        return False
    if isinstance(stored, bytes):
        stored = stored.decode()
    # A file from before subjects carried their person ('group') is recomputed once to gain it.
    return stored == config_key and has_group


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]features[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[current]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )


def run(params: TaskParams, task: Any = None) -> dict:
    t0 = time.perf_counter()
    if not params.datasets:
        raise SleepkitError(
            "no datasets configured: 'datasets' is empty; add at least one, e.g. "
            '"datasets": [{"name": "synthetic", "params": {"num_subjects": 4}}]'
        )
    fparams = dict(params.feature.params)
    force = fparams.pop("force", False)
    if not isinstance(force, bool):
        raise SleepkitError(f"feature.params.force must be true or false (got {force!r})")
    feature_cls = FeatureFactory.get(params.feature.name)
    feature_kwargs = dict(sampling_rate=params.feature.sampling_rate, frame_size=params.feature.frame_size, **fparams)
    feature_set = _build(feature_cls, feature_kwargs, f"feature set '{params.feature.name}'")  # validates params now
    hop = getattr(feature_set, "hop_seconds", None)
    save_path = Path(params.feature.save_path)

    names = [d.name.lower() for d in params.datasets]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SleepkitError(f"datasets: '{dupes[0]}' is listed more than once; each dataset writes to one store folder")

    jobs: list[_Job] = []
    skipped = 0
    stale = 0
    for i, ds_params in enumerate(params.datasets):
        ds_cls = DatasetFactory.get(ds_params.name)
        dataset = _build(ds_cls, dict(ds_params.params), f"datasets[{i}] '{ds_params.name}' params")
        subject_ids = list(dataset.subject_ids())
        if not subject_ids:
            logger.warning("dataset '%s' has no subjects", ds_params.name)
        # Params a dataset declares as not changing any subject's recording (e.g. how many subjects
        # there are) stay out of the key, so adding subjects does not recompute the existing ones.
        neutral = set(getattr(ds_cls, "subject_independent_params", ()))
        config_key = json.dumps(
            {
                "feature_set": params.feature.name,
                "sampling_rate": params.feature.sampling_rate,
                "frame_size": params.feature.frame_size,
                "feature_params": dict(getattr(feature_set, "params", fparams)),  # defaults filled in
                "dataset": ds_params.name,
                "dataset_params": {k: v for k, v in ds_params.params.items() if k not in neutral},
            },
            sort_keys=True,
            default=str,
        )
        attrs = {
            "dataset": ds_params.name,
            "feature_set": params.feature.name,
            "sampling_rate": float(params.feature.sampling_rate),
            "frame_size": int(params.feature.frame_size),
            "frame_seconds": float(params.feature.frame_size / params.feature.sampling_rate),
            "hop_seconds": float(hop) if hop is not None else -1.0,
            "version": __version__,
            "config": config_key,
        }
        for sid in subject_ids:
            path = subject_file(save_path, params.feature.name, ds_params.name, sid)
            state = None if force else _existing_matches(path, config_key)
            if state is True:
                skipped += 1
                continue
            if state is False:
                stale += 1
                logger.warning("%s was computed with a different configuration (or is unreadable); recomputing", path)
            jobs.append(_Job(ds_params.name, ds_cls, dict(ds_params.params), feature_cls, feature_kwargs, sid, path, attrs))
        _DATASET_CACHE[(ds_cls, json.dumps(ds_params.params, sort_keys=True, default=str))] = dataset

    if skipped:
        logger.info("skipped %d subject(s) whose feature files already exist (feature.params.force=true recomputes)", skipped)
    logger.info("computing %s for %d subject(s) with %d worker(s)", params.feature.name, len(jobs), min(max(1, params.num_workers), max(1, len(jobs))))

    results: list[dict] = []
    workers = min(max(1, params.num_workers), len(jobs))
    with _progress(params.verbose >= 1) as progress:
        bar = progress.add_task("features", total=len(jobs), current="")

        def done(res: dict) -> None:
            results.append(res)
            if "error" in res:
                logger.error("%s/%s failed: %s", res["dataset"], res["subject"], res["error"])
                if "traceback" in res:
                    logger.debug(res["traceback"])
            progress.update(bar, advance=1, current=f"{res['dataset']}/{res['subject']}")

        if workers <= 1:
            for job in jobs:
                done(_compute_subject(job))
        else:
            # spawn, not fork: forking a process that may hold TensorFlow/BLAS threads can deadlock.
            ctx = multiprocessing.get_context("spawn")
            broken_hint = False
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                futures = {pool.submit(_compute_subject, job): job for job in jobs}
                for fut in as_completed(futures):
                    try:
                        done(fut.result())
                    except Exception as exc:  # the worker process itself died (e.g. out of memory)
                        job = futures[fut]
                        done({"dataset": job.dataset_name, "subject": job.subject_id, "error": f"worker process failed: {type(exc).__name__}: {exc}"})
                        if isinstance(exc, BrokenProcessPool) and not broken_hint:
                            broken_hint = True
                            logger.error(BROKEN_POOL_HINT)

    ok = [r for r in results if "error" not in r]
    failed = [r for r in results if "error" in r]
    reasons: dict[str, int] = {}
    for r in ok:
        for k, v in r["reasons"].items():
            reasons[k] = reasons.get(k, 0) + v
    summary = {
        "feature_set": params.feature.name,
        "datasets": ", ".join(d.name for d in params.datasets),
        "store": str(save_path / params.feature.name),
        "subjects_written": len(ok),
        "subjects_skipped": skipped,
        "subjects_recomputed_stale": stale,
        "subjects_failed": len(failed),
        "frames": sum(r["frames"] for r in ok),
        "masked_frames": sum(r["masked"] for r in ok),
        "masked_by_reason": reasons,
        "hours": round(sum(r["signal_seconds"] for r in ok) / 3600.0, 3),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    logger.info("feature summary: %s", json.dumps(summary))
    if failed:
        lines = "\n".join(f"  - {r['dataset']}/{r['subject']}: {r['error']}" for r in sorted(failed, key=lambda r: (r["dataset"], r["subject"])))
        raise SleepkitError(
            f"feature extraction failed for {len(failed)} of {len(jobs)} subject(s) "
            f"(written {len(ok)}, skipped {skipped}; no partial files were left):\n{lines}"
        )
    return summary
