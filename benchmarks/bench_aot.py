"""AOT engine figures: instructions per inference, flash and RAM, against TFLite Micro where possible.

    python benchmarks/bench_aot.py [--tflite model.tflite ...] [--frames 64] [--json out.json]

Without --tflite it converts two models: a TCN-like Keras model and the project's TCN
(sleepkit.models.tcn, default architecture, random weights). For each model it prints

* the planned activation arena vs TFLM's own arena use (host TFLM, RecordingMicroAllocator),
* instructions per inference on the host (valgrind callgrind, counted inside the AOT invoke
  function and inside TFLM's MicroInterpreter::Invoke) - an instruction-count proxy, not a timing,
* Cortex-M4 flash of the generated model (arm-none-eabi-gcc -O2) vs the .tflite size, and the
  kernel library's size,
* the QEMU firmware (make -C firmware ENGINE=aot) flash/RAM from arm-none-eabi-size; ENGINE=tflm
  too when TFLM_DIR points at a TFLM source tree.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sleepkit.aot import generate, kernel_dir, testmodels  # noqa: E402

INVOKES = 10
M4_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2", "-ffunction-sections",
            "-fdata-sections"]

DRIVER_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include "model_aot.h"
/* Fills the input with a fixed pseudo-random pattern and runs the model n times. */
int main(int argc, char **argv) {
    int i, n = argc > 1 ? atoi(argv[1]) : 1;
    const sk_aot_io_t *in = &SK_AOT_MODEL.inputs[0];
    unsigned s = 1, k;
    for (k = 0; k < in->bytes; k++) {
        s = s * 1103515245u + 12345u;
        ((unsigned char *)in->data)[k] = (unsigned char)(s >> 16);
    }
    for (i = 0; i < n; i++) SK_AOT_MODEL.invoke();
    printf("%d\n", ((signed char *)SK_AOT_MODEL.outputs[0].data)[0]);
    return 0;
}
"""

TFLM_RUNNER = r"""
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
interp = runtime.Interpreter.from_bytes(open(sys.argv[1], "rb").read(), arena_size=1 << 22)
d = interp.get_input_details(0)
interp.set_input(np.random.default_rng(0).integers(-128, 128, d["shape"], dtype=np.int8), 0)
for _ in range(int(sys.argv[2])):
    interp.invoke()
if sys.argv[3] == "alloc":
    interp.print_allocations()
"""


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def tflm_arena(tflite: Path, work: Path) -> dict:
    script = work / "tflm_runner.py"
    script.write_text(TFLM_RUNNER)
    res = run([sys.executable, str(script), str(tflite), "1", "alloc"])
    text = res.stdout + res.stderr
    out = {}
    for key in ("total", "head", "tail"):
        m = re.search(rf"Arena allocation {key} (\d+) bytes", text)
        if m:
            out[key] = int(m.group(1))
    return out


def callgrind_collected(cmd: list[str], toggle: str, work: Path) -> int | None:
    res = run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={work / 'cg.out'}", f"--toggle-collect={toggle}",
               *cmd])
    m = re.search(r"Collected : (\d+)", res.stderr)
    return int(m.group(1)) if m and res.returncode == 0 else None


def host_instructions(model_dir: Path, tflite: Path, prefix: str, work: Path) -> dict:
    if shutil.which("valgrind") is None or shutil.which("gcc") is None:
        return {"skipped": "valgrind or gcc not found"}
    driver = work / "driver.c"
    driver.write_text(DRIVER_C)
    exe = work / "aot_driver"
    res = run(["gcc", "-std=c99", "-O2", f"-I{kernel_dir()}", f"-I{model_dir}", str(driver),
               str(model_dir / "model_aot.c"), *map(str, sorted(kernel_dir().glob("*.c"))), "-o", str(exe)])
    if res.returncode != 0:
        return {"skipped": "host build failed: " + res.stderr[-300:]}
    aot = callgrind_collected([str(exe), str(INVOKES)], f"{prefix}invoke", work)
    script = work / "tflm_runner.py"
    script.write_text(TFLM_RUNNER)
    tflm = callgrind_collected([sys.executable, str(script), str(tflite), str(INVOKES), "run"],
                               "*MicroInterpreter::Invoke*", work)
    out = {"aot": aot // INVOKES if aot else None, "tflm": tflm // INVOKES if tflm else None}
    if out["aot"] and out["tflm"]:
        out["aot_over_tflm"] = round(out["aot"] / out["tflm"], 3)
    return out


def m4_size(sources: list[Path], includes: list[Path], work: Path, name: str) -> dict | None:
    if shutil.which("arm-none-eabi-gcc") is None:
        return None
    objs = []
    for i, src in enumerate(sources):
        obj = work / f"{name}_{i}.o"
        res = run(["arm-none-eabi-gcc", "-std=c99", *M4_FLAGS, *[f"-I{p}" for p in includes], "-c", str(src), "-o", str(obj)])
        if res.returncode != 0:
            return {"error": res.stderr[-300:]}
        objs.append(str(obj))
    sizes = {"flash": 0, "ram": 0, "arena": 0}
    for obj in objs:
        for line in run(["arm-none-eabi-size", "-A", obj]).stdout.splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit() or not parts[0].startswith("."):
                continue
            sec, n = parts[0], int(parts[1])
            if sec.startswith(".sk_arena"):
                sizes["arena"] += n
            elif sec.startswith((".text", ".rodata")):
                sizes["flash"] += n
            elif sec.startswith(".data"):
                sizes["flash"] += n
                sizes["ram"] += n
            elif sec.startswith(".bss"):
                sizes["ram"] += n
    return sizes


def firmware_size(model_dir: Path, engine: str, work: Path) -> dict:
    if shutil.which("arm-none-eabi-gcc") is None:
        return {"skipped": "arm-none-eabi-gcc not found"}
    if engine == "tflm" and not os.environ.get("TFLM_DIR"):
        return {"skipped": "TFLM_DIR not set (TFLM sources are needed for ENGINE=tflm)"}
    build = work / f"fw-{engine}"
    res = run(["make", "-C", str(REPO / "firmware"), "-j2", "BOARD=mps2-an386", f"ENGINE={engine}", "APP=main",
               f"MODEL_DIR={model_dir}", f"BUILD_DIR={build}"])
    if res.returncode != 0:
        return {"skipped": "build failed: " + (res.stderr or res.stdout)[-300:]}
    elf = build / "sleepkit-mps2-an386.elf"
    size = run(["arm-none-eabi-size", str(elf)]).stdout.strip().splitlines()[-1].split()
    text, data, bss = int(size[0]), int(size[1]), int(size[2])
    return {"flash": text + data, "ram": data + bss}


def default_models(work: Path, frames: int) -> list[tuple[str, Path]]:
    from sleepkit.models.tcn import build_tcn

    models = [("tcn_like", testmodels.tcn_like_model(frames=frames, feats=14, classes=5, filters=16,
                                                     dilations=(1, 2, 4, 8), kernel_size=5)),
              ("project_tcn", build_tcn((frames, 14), 5, use_logits=False))]
    out = []
    for name, model in models:
        path = work / f"{name}.tflite"
        path.write_bytes(testmodels.convert_keras_int8(model))
        out.append((name, path))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tflite", action="append", type=Path, default=[], help="int8 .tflite to measure (repeatable)")
    ap.add_argument("--frames", type=int, default=64, help="window length of the built-in models")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="sk-bench-aot-") as tmp:
        work = Path(tmp)
        models = [(p.stem, p) for p in args.tflite] or default_models(work, args.frames)
        report = {}
        kernels = m4_size(sorted(kernel_dir().glob("*.c")), [kernel_dir()], work, "kernels")
        for name, tflite in models:
            mdir = work / name
            summary = generate(tflite, mdir, model_name=name, var_prefix="bench_")
            entry = {
                "tflite_bytes": tflite.stat().st_size,
                "ops": summary["ops"],
                "op_counts": summary["op_counts"],
                "weights_bytes": summary["weights_bytes"],
                "aot_arena_bytes": summary["peak_bytes"],
                "aot_arena_without_reuse": summary["naive_arena_bytes"],
                "tflm_arena_host": tflm_arena(tflite, work),
                "instructions_per_inference_host": host_instructions(mdir, tflite, "bench_", work),
                "m4_model_object": m4_size([mdir / "model_aot.c"], [kernel_dir(), mdir], work, name),
                "m4_kernel_library": kernels,
                "firmware_aot": firmware_size(mdir, "aot", work),
                "firmware_tflm": firmware_size(mdir, "tflm", work),
            }
            report[name] = entry
            print(f"\n== {name}: {entry['ops']} ops {entry['op_counts']}")
            print(f"  .tflite {entry['tflite_bytes']} B, weights {entry['weights_bytes']} B")
            arena = entry["tflm_arena_host"]
            print(f"  activation arena: aot {entry['aot_arena_bytes']} B (no reuse: {entry['aot_arena_without_reuse']} B); "
                  f"TFLM host: non-persistent {arena.get('head')} B, total {arena.get('total')} B")
            ins = entry["instructions_per_inference_host"]
            print(f"  instructions/inference (host, callgrind): aot {ins.get('aot')}, tflm {ins.get('tflm')}, "
                  f"ratio {ins.get('aot_over_tflm')} {ins.get('skipped', '')}")
            mo = entry["m4_model_object"]
            if mo and "flash" in mo:
                print(f"  Cortex-M4 model_aot.o: flash {mo['flash']} B ({mo['flash'] / entry['tflite_bytes']:.2f}x the .tflite), "
                      f"arena {mo['arena']} B; kernel library flash {kernels['flash'] if kernels else '?'} B")
            for eng in ("aot", "tflm"):
                fw = entry[f"firmware_{eng}"]
                print(f"  firmware mps2-an386 ENGINE={eng}: " + (f"flash {fw['flash']} B, RAM {fw['ram']} B (incl. stack)"
                                                                  if "flash" in fw else fw["skipped"]))
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
