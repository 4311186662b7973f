"""User-facing errors.

Anything a user can cause (bad config, missing files, malformed recordings) raises ``SleepkitError``
with a message that names the file and the field. The CLI prints it without a traceback and exits 2.
"""

from __future__ import annotations


class SleepkitError(Exception):
    """An error caused by input the user can fix; the message says which file/field and why."""

    exit_code = 2


class VerificationError(SleepkitError):
    """A check on produced artefacts failed (e.g. TFLite vs TFLM parity at export)."""

    exit_code = 3
