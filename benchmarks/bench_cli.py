"""CLI start-up: wall time of `sleepkit --help`, ours and (if SLEEPKIT_PEER is set) the peer's, same run."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time


def _time(cmd: list[str], runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    ours_cmd = [shutil.which("sleepkit") or sys.executable, "--help"]
    if ours_cmd[0] == sys.executable:
        ours_cmd = [sys.executable, "-m", "sleepkit.cli", "--help"]
    ours = _time(ours_cmd)
    print(f"sleepkit --help: {ours:.3f} s (median of 5)")
    peer = os.environ.get("SLEEPKIT_PEER")
    if peer:
        theirs = _time([peer, "--help"], runs=3)
        print(f"peer sleepkit --help: {theirs:.3f} s (median of 3)")
        print(f"ratio peer/ours: {theirs / ours:.1f}x")
    else:
        print("peer: set SLEEPKIT_PEER=/path/to/peer-venv/bin/sleepkit for a side-by-side ratio")


if __name__ == "__main__":
    main()
