"""Training throughput and the default model's footprint on a synthetic feature store.

Prints: window sampling rate of the data stream, training windows/s and frames/s (batch steps after
warm-up), Keras predict windows/s, and for the default architecture the parameter count, MACs, int8
size, host TFLM arena and per-window invoke time. Run: ``python benchmarks/bench_train.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the toy feature-store writer lives with the tests

from test_data_split import write_toy_store  # noqa: E402

from sleepkit.params import TaskParams  # noqa: E402
from sleepkit.tasks.stage import StageTask  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=12)
    ap.add_argument("--frames", type=int, default=960, help="feature frames per night (960 = 8 h of 30 s)")
    ap.add_argument("--features", type=int, default=14)
    ap.add_argument("--frame-size", type=int, default=240)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--arch", default=None, help='architecture params as JSON, e.g. \'{"filters": 32}\'')
    args = ap.parse_args()

    from sleepkit.convert import convert_int8
    from sleepkit.modes.train import compile_model, prepare
    from sleepkit.tflm_check import io_details, quantize_input, run_tflm, tflm_arena_bytes, weights_and_macs
    from sleepkit.training.model_io import build_model

    tmp = Path(tempfile.mkdtemp(prefix="sk-bench-"))
    write_toy_store(tmp / "store", args.subjects, args.frames, num_features=args.features)
    params = TaskParams.model_validate(dict(
        job_dir=tmp / "job", datasets=[{"name": "toy"}], feature={"name": "toyfeat", "save_path": str(tmp / "store")},
        frame_size=args.frame_size, num_classes=4, class_map={0: 0, 1: 1, 2: 1, 3: 2, 5: 3}, seed=1,
        batch_size=args.batch_size, samples_per_subject=50, epochs=1, steps_per_epoch=args.steps,
        architecture={"name": "tcn", "params": json.loads(args.arch)} if args.arch else None,
    ))
    _, bank, stream, _, _ = prepare(params, StageTask())

    t0 = time.perf_counter()
    for _ in range(200):
        next(stream)
    dt = time.perf_counter() - t0
    print(f"data stream        : {200 * args.batch_size / dt:10.0f} windows/s")

    model = build_model(params, args.features)
    compile_model(model, params)
    model.fit(stream, steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)  # trace + warm up
    t0 = time.perf_counter()
    model.fit(stream, steps_per_epoch=args.steps, epochs=1, verbose=0, shuffle=False)
    dt = time.perf_counter() - t0
    win_s = args.steps * args.batch_size / dt
    print(f"training           : {win_s:10.1f} windows/s  {win_s * args.frame_size:10.0f} frames/s  ({dt / args.steps * 1e3:.1f} ms/step)")

    x = next(stream)[0]
    model.predict(x, verbose=0)
    t0 = time.perf_counter()
    for _ in range(5):
        model.predict(x, batch_size=args.batch_size, verbose=0)
    print(f"keras predict      : {5 * len(x) / (time.perf_counter() - t0):10.1f} windows/s")

    tflite = convert_int8(model, next(stream)[0], "int8")
    weights, macs = weights_and_macs(tflite)
    xq = quantize_input(x[:8], io_details(tflite)[0])
    run_tflm(tflite, xq[:1])
    t0 = time.perf_counter()
    run_tflm(tflite, xq)
    tflm_ms = (time.perf_counter() - t0) / len(xq) * 1e3
    print(f"model              : {model.count_params()} params, {weights} int8 weights, {macs} MACs/window "
          f"({macs / args.frame_size:.0f}/frame), {len(tflite)} B .tflite")
    print(f"host TFLM          : arena {tflm_arena_bytes(tflite)} B, {tflm_ms:.2f} ms/window (incl. interpreter setup share)")
    print(f"store              : {bank.x.shape[0]} frames in {len(bank.subjects)} training subjects, "
          f"window {args.frame_size} x {args.features}, batch {args.batch_size}")


if __name__ == "__main__":
    main()
