"""Shared test set-up."""

import logging

import pytest


@pytest.fixture(autouse=True)
def _sleepkit_logger_reset():
    """Modes run in-process call setup_logging, which stops propagation to the root logger (so the
    console does not print twice). Restore it after each test so caplog sees sleepkit's records."""
    yield
    logger = logging.getLogger("sleepkit")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True
