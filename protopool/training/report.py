"""The evaluation report of a run: test accuracy at each stage, slot statistics, errors.

Training ends with it and ``protopool evaluate`` rebuilds it, through this one function.
"""

from __future__ import annotations

from typing import Any

import torch

from protopool.checkpoint import model_from_checkpoint, read_checkpoint
from protopool.evaluation import slot_errors, slot_statistics
from protopool.execution import StepSettings, autocast, to_device
from protopool.models import ProtoTree, PrototypeModel
from protopool.models.prototree import INFERENCE_MODES
from protopool.rundir import RunPaths
from protopool.training.data import ImageLoader, RunData
from protopool.training.engine import evaluate, progress_bar


def evaluation_report(
    model: PrototypeModel, data: RunData, settings: StepSettings, paths: RunPaths | None = None
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
        slot statistics of :func:`protopool.evaluation.slot_statistics` (for a tree, those of
        :func:`tree_report`), and ``errors``: messages for conditions that make the scores
        meaningless (empty slots).
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
            # A tree is not fine-tuned after projection: its projected model is the final one.
            final = {} if isinstance(model, ProtoTree) else {"after_finetuning": test}
            report["test_by_stage"] = {**stages, **final}
    if isinstance(model, ProtoTree):
        report.update(tree_report(model, data.test_loader, settings))
        report["errors"] = []
        return report
    statistics = slot_statistics(model)
    report.update(statistics)
    report["errors"] = slot_errors(statistics, model.config.test_time_assignment)
    return report


@torch.no_grad()
def tree_report(model: ProtoTree, loader: ImageLoader, settings: StepSettings) -> dict[str, Any]:
    """A tree's accuracy in every inference mode, their fidelity, and its shape.

    One pass computes the distances; each mode then routes the same distances.

    Returns:
        ``test_by_mode`` (accuracy per mode), ``fidelity`` (share of images on which
        ``sample_max`` and ``greedy`` predict what ``distributed`` predicts), ``inference``
        (the run's default mode), ``prototypes_before_pruning``, ``prototypes_after_pruning``,
        ``num_leaves``, ``depth``, ``mean_path_length`` (prototypes on the greedy path of a
        test image, averaged over images) and ``mean_leaf_depth`` (over kept leaves).
    """
    model.eval()
    predictions: dict[str, list[torch.Tensor]] = {mode: [] for mode in INFERENCE_MODES}
    labels_seen, path_lengths = [], []
    for images, labels in progress_bar(loader, "test (tree modes)"):
        with autocast(settings):
            sq_dist = model.distances(to_device(images, settings))
        min_dist = sq_dist.flatten(2).amin(dim=2)
        for mode in INFERENCE_MODES:
            predictions[mode].append(model.route(min_dist, mode).logits.argmax(dim=1).cpu())
        path_lengths.append(model.greedy_path_lengths(min_dist).float().cpu())
        labels_seen.append(labels)
    truth = torch.cat(labels_seen)
    predicted = {mode: torch.cat(values) for mode, values in predictions.items()}
    shape = model.tree_statistics()
    return {
        "inference": model.tree.inference,
        "test_by_mode": {
            mode: float((values == truth).float().mean()) for mode, values in predicted.items()
        },
        "fidelity": {
            mode: float((predicted[mode] == predicted["distributed"]).float().mean())
            for mode in ("sample_max", "greedy")
        },
        "prototypes_before_pruning": model.tree.num_prototypes,
        "prototypes_after_pruning": model.num_prototypes,
        "num_leaves": shape["num_leaves"],
        "depth": shape["depth"],
        "mean_path_length": float(torch.cat(path_lengths).mean()),
        "mean_leaf_depth": shape["mean_path_length"],
    }
