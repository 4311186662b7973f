"""One module per mode; each exposes ``run(params, task) -> dict`` (the summary printed at the end)."""

MODES = ("download", "feature", "train", "evaluate", "export", "demo")
