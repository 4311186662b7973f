"""Demo backends: where the exported model runs (``pc``: TFLite on this PC; ``evb``: a serial device)."""
