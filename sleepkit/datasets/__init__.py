"""Datasets: each yields ``Recording`` objects (signals at their own rates plus labels)."""

from .base import Dataset, Recording, Signal, LabelTrack

__all__ = ["Dataset", "Recording", "Signal", "LabelTrack"]
