"""What the real-data benchmark scripts share: this checkout's sleepkit ahead of any installed one,
argument types that refuse nonsense before minutes of work, quiet TensorFlow, and a runner that prints
sleepkit's own errors as one line instead of a traceback."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/x.py` from a clone measures that clone
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices would interleave with the tables


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def folds_arg(text: str) -> int:
    value = int(text)
    if value == 1 or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (one fold per person) or at least 2 (got {value})")
    return value


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 1,2,4,8 (got {text!r})") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"every value must be at least 1 (got {text!r})")
    return values


def parser(doc: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=doc.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def run(main: Callable[[], int]) -> int:
    from pydantic import ValidationError

    from sleepkit.errors import SleepkitError

    try:
        return main()
    except (SleepkitError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
