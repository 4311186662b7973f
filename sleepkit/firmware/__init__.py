"""Firmware integration: op-resolver and arena headers from an export, firmware builds, budgets, QEMU runs.

Nothing here imports TensorFlow; ``sleepkit --help`` stays fast.
"""
