"""The evaluation report of a run: test accuracy at each stage, slot statistics, errors.

Training ends with it and ``protopool evaluate`` rebuilds it, through this one function.
"""

from __future__ import annotations

from typing import Any

from protopool.checkpoint import model_from_checkpoint, read_checkpoint
from protopool.evaluation import slot_errors, slot_statistics
from protopool.execution import StepSettings
from protopool.models import ProtoPool
from protopool.rundir import RunPaths
from protopool.training.data import RunData
from protopool.training.engine import evaluate


def evaluation_report(
    model: ProtoPool, data: RunData, settings: StepSettings, paths: RunPaths | None = None
) -> dict[str, Any]:
    """Evaluate a trained model on the test set.

    Args:
        model: The run's final model.
        data: The run's loaders.
        settings: Device and precision.
        paths: The run directory; when it holds the models kept around projection, their
            test accuracy is reported too (the paper's Table 3).

    Returns:
        ``test`` (the final model), ``test_by_stage`` (``before_projection``,
        ``after_projection``, ``after_finetuning``, for the stages whose model was kept), the
        slot statistics of :func:`protopool.evaluation.slot_statistics`, and ``errors``:
        messages for conditions that make the scores meaningless (empty slots).
    """
    test = evaluate(model, data.test_loader, settings, "test")
    report: dict[str, Any] = {"test": test}
    if paths is not None:
        stages = {}
        for stage, path in (
            ("before_projection", paths.before_projection),
            ("after_projection", paths.projected),
        ):
            if path.is_file():
                kept = model_from_checkpoint(read_checkpoint(path), settings.device)
                stages[stage] = evaluate(kept, data.test_loader, settings, stage)
        if stages:
            report["test_by_stage"] = {**stages, "after_finetuning": test}
    statistics = slot_statistics(model)
    report.update(statistics)
    report["errors"] = slot_errors(statistics, model.config.test_time_assignment)
    return report
