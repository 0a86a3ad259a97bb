"""``fastmlp compare``: train one network with several optimizers (and seeds)
and write results.json, history.csv, PNG plots and a markdown report.

From Python::

    from fastmlp.compare import CompareConfig, parse_optimizer_list, run_comparison
    results = run_comparison(CompareConfig(parse_optimizer_list("sgd,adam"), epochs=2))
"""

from .run import CompareConfig, build_model, load_dataset, run_comparison
from .spec import (
    OptimizerSpec,
    ScheduleSpec,
    SpecError,
    parse_optimizer,
    parse_optimizer_list,
    parse_schedule,
    parse_value,
)

__all__ = [
    "CompareConfig",
    "OptimizerSpec",
    "ScheduleSpec",
    "SpecError",
    "build_model",
    "load_dataset",
    "parse_optimizer",
    "parse_optimizer_list",
    "parse_schedule",
    "parse_value",
    "run_comparison",
]
