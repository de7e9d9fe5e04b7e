"""Metrics shared by tasks, computed from whole-evaluation tensors.

Classification: accuracy, macro-averaged precision, recall and F1, and the confusion matrix.
Regression: mean squared error, root mean squared error, mean absolute error.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """(C, C) int64 counts: row = true class, column = predicted class."""
    index = target.long().reshape(-1) * num_classes + pred.long().reshape(-1)
    counts = torch.bincount(index.cpu(), minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def classification_metrics(pred: Tensor, target: Tensor, num_classes: int) -> dict[str, Any]:
    """Accuracy, macro precision/recall/F1 (classes absent from both count as 0 and are skipped),
    and the confusion matrix as a nested list."""
    cm = confusion_matrix(pred, target, num_classes).double()
    tp = cm.diag()
    predicted, actual = cm.sum(0), cm.sum(1)
    present = (predicted + actual) > 0  # a class that never occurs in target or prediction
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(actual > 0, tp / actual.clamp(min=1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(
        denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), torch.zeros_like(tp)
    )
    total = cm.sum()
    return {
        "accuracy": float(tp.sum() / total) if total > 0 else 0.0,
        "precision": float(precision[present].mean()) if present.any() else 0.0,
        "recall": float(recall[present].mean()) if present.any() else 0.0,
        "f1": float(f1[present].mean()) if present.any() else 0.0,
        "confusion": cm.long().tolist(),
    }


def regression_metrics(pred: Tensor, target: Tensor) -> dict[str, float]:
    """MSE, RMSE and MAE over every element."""
    err = (pred.double() - target.double()).reshape(-1)
    mse = float(err.pow(2).mean())
    return {"mse": mse, "rmse": mse**0.5, "mae": float(err.abs().mean())}
