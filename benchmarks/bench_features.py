"""Throughput of synthetic night generation and FS-W-PA-14 extraction.

Prints hours of signal per CPU-second and wall time per subject-night for both stages::

    python benchmarks/bench_features.py --subjects 4 --hours 8
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sleepkit.datasets.synthetic import SyntheticDataset
from sleepkit.features.fs_w_pa_14 import FS_W_PA_14


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--sampling-rate", type=float, default=64.0)
    ap.add_argument("--frame-seconds", type=float, default=60.0)
    args = ap.parse_args()

    ds = SyntheticDataset(num_subjects=args.subjects, hours=args.hours)
    fs = FS_W_PA_14(sampling_rate=args.sampling_rate, frame_size=int(args.frame_seconds * args.sampling_rate))
    ds.load(ds.subject_ids()[0])  # warm-up: imports and first-call allocations stay out of the figures

    gen_cpu, gen_wall, feat_cpu, feat_wall, frames = [], [], [], [], 0
    for sid in ds.subject_ids():
        c0, w0 = time.process_time(), time.perf_counter()
        rec = ds.load(sid)
        c1, w1 = time.process_time(), time.perf_counter()
        out = fs.compute(rec)
        c2, w2 = time.process_time(), time.perf_counter()
        gen_cpu.append(c1 - c0)
        gen_wall.append(w1 - w0)
        feat_cpu.append(c2 - c1)
        feat_wall.append(w2 - w1)
        frames += len(out.mask)

    hours = args.subjects * args.hours
    print(f"{args.subjects} subject-nights of {args.hours:g} h ({hours:g} h of signal), {frames} frames")
    for name, cpu, wall in (("synthetic generation", gen_cpu, gen_wall), ("FS-W-PA-14 extraction", feat_cpu, feat_wall)):
        print(
            f"{name:22s} {hours / sum(cpu):8.1f} h of signal per CPU-second | "
            f"wall per subject: mean {np.mean(wall):.3f} s, max {np.max(wall):.3f} s"
        )


if __name__ == "__main__":
    main()
