"""The benchmark's sections, in the order run.py runs them. Each module has
``run(ctx) -> dict`` (the figures, JSON-ready) and ``report(result) -> str``
(Markdown)."""

ORDER = ("epoch", "inference", "scaling", "ceilings", "optimizer", "memory")
