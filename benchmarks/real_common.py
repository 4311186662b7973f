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


def add_cv_arguments(ap: argparse.ArgumentParser, data: Path, data_help: str, folds: int, folds_help: str,
                     epochs: int, steps: int, filters: int) -> None:
    """The options both real-data scripts take, with each script's defaults."""
    from sleepkit.crossval import NORMALISATIONS

    ap.add_argument("--data", type=Path, default=data, help=data_help)
    ap.add_argument("--store", type=Path, default=None, help="feature store folder (None: a temporary one)")
    ap.add_argument("--folds", type=folds_arg, default=folds, help=folds_help)
    ap.add_argument("--seed", type=int, default=0, help="seed of the fold deal and of training")
    ap.add_argument("--epochs", type=positive_int, default=epochs, help="training epochs per fold")
    ap.add_argument("--steps", type=positive_int, default=steps, help="training steps per epoch")
    ap.add_argument("--filters", type=positive_int, default=filters, help="TCN filters")
    ap.add_argument("--normalise", default="subject+quantile", choices=NORMALISATIONS,
                    help="feature normalisation for the sleepkit model (see sleepkit.crossval.fold_subjects)")
    ap.add_argument("--json", type=Path, default=None, help="also write all figures here")


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
