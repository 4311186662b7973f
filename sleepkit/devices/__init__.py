"""Simulated devices that speak the sleepkit serial protocol, so ``--backend evb`` runs without hardware.

``python -m sleepkit.devices.simulated --model job/export/model.tflite --port 0`` serves the exported
model (host TFLM runtime) on a loopback socket and prints the ``--port`` URL to give ``sleepkit demo``.
"""
