"""Tagging metrics: token accuracy, entity-level precision/recall/F1, the most frequent errors.

Entities are scored with ``seqeval`` in strict IOB2 mode (``mode="strict", scheme=IOB2``): an
entity counts only when its type and exact span (a B- and its I-s) match. seqeval's default
lenient mode also counts chunks that begin with I-, which inflates scores of taggers that emit
invalid sequences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

TOP_ERRORS = 15


def token_accuracy(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> float:
    """The share of tokens whose predicted tag equals the gold tag."""
    total = sum(len(g) for g in gold)
    right = sum(a == b for g, p in zip(gold, predicted) for a, b in zip(g, p))
    return right / max(total, 1)


def entity_scores(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> dict[str, Any]:
    """Micro precision, recall and F1 over entities (strict IOB2), and the same per type."""
    report = classification_report(
        [list(g) for g in gold],
        [list(p) for p in predicted],
        mode="strict",
        scheme=IOB2,
        output_dict=True,
        zero_division=0,
    )
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    per_type = {
        kind: {
            "precision": float(v["precision"]),
            "recall": float(v["recall"]),
            "f1": float(v["f1-score"]),
            "support": int(v["support"]),
        }
        for kind, v in report.items()
        if not kind.endswith(" avg")
    }
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "per_type": dict(sorted(per_type.items())),
    }


def frequent_errors(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], top: int = TOP_ERRORS
) -> list[dict[str, Any]]:
    """The most frequent (gold tag, predicted tag) confusions, most frequent first."""
    counts = Counter((a, b) for g, p in zip(gold, predicted) for a, b in zip(g, p) if a != b)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"gold": a, "predicted": b, "count": n} for (a, b), n in ranked[:top]]


def tag_metrics(
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    chunked: bool,
    unknown: Sequence[bool] | None = None,
) -> dict[str, Any]:
    """Everything a tagging evaluation reports.

    Args:
        gold, predicted: tags per sentence (IOB2 when ``chunked``).
        chunked: score entities too (``precision``, ``recall``, ``f1``, ``per_type``).
        unknown: per token (all sentences in order), whether its word was unseen in training;
            gives ``unknown_accuracy`` (None when there is no such token).
    """
    metrics: dict[str, Any] = {"accuracy": token_accuracy(gold, predicted)}
    counts = {"sentences": len(gold), "tokens": sum(len(g) for g in gold)}
    if unknown is not None:
        pairs = [(a == b) for g, p in zip(gold, predicted) for a, b in zip(g, p)]
        seen = [right for right, u in zip(pairs, unknown) if u]
        metrics["unknown_accuracy"] = sum(seen) / len(seen) if seen else None
        counts["unknown_tokens"] = len(seen)
    if chunked:
        metrics.update(entity_scores(gold, predicted))
    metrics["counts"] = counts  # a dict: reported in metrics.json, not logged per epoch
    metrics["errors"] = frequent_errors(gold, predicted)
    return metrics
