#!/usr/bin/env bash
# Install, then run the whole pipeline on the built-in synthetic dataset:
# feature -> train -> evaluate -> export (int8, TFLM-verified) -> demo (pc backend, report.html).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export TF_CPP_MIN_LOG_LEVEL=3  # TensorFlow C++ logs (CUDA probing on CPU-only machines) are noise here
CONFIG="${1:-configs/quickstart.json}"
for mode in feature train evaluate export demo; do
    echo "== sleepkit $mode --task stage --config $CONFIG"
    sleepkit "$mode" --task stage --config "$CONFIG" --set display_report=false
done
echo "report: $(python3 -c "import sleepkit as sk; print(sk.load_params('$CONFIG').job_dir / 'report.html')")"
