"""The text task's report: what a user looks at after training, written into the run directory.

For the validation and test splits:

* ``confusion_<split>.png``: the confusion matrix (rows true, columns predicted);
* ``report_<split>.md``: accuracy and macro F1 of the model beside the linear baselines fitted
  on the same split, per-class precision/recall/F1/support, and the most confidently wrong
  documents (true and predicted class, confidence, the start of the text);
* ``attention_<split>.html``: documents with each token's background shaded by its weight:
  attention weights (``--model.pooling attention``), or for max pooling the share of encoder
  units whose maximum falls on the token; the most confidently wrong (up to half of them), then
  the most confidently right.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from rnnkit.train import Context, load_checkpoint
from rnnkit.train.plots import plot_confusion

from . import preprocess

SNIPPET = 160  # characters of a document shown in the table of wrong ones
SHORT = 250  # tokens: longer documents are not highlighted (the page stays readable)


def per_class(confusion: Sequence[Sequence[int]], classes: Sequence[str]) -> dict[str, dict]:
    """``{class: {precision, recall, f1, support}}`` from a confusion matrix (rows true)."""
    cm = torch.tensor(confusion, dtype=torch.float64)
    tp, predicted, actual = cm.diag(), cm.sum(0), cm.sum(1)
    out = {}
    for i, c in enumerate(classes):
        p = float(tp[i] / predicted[i]) if predicted[i] > 0 else 0.0
        r = float(tp[i] / actual[i]) if actual[i] > 0 else 0.0
        f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
        out[str(c)] = {"precision": p, "recall": r, "f1": f1, "support": int(actual[i])}
    return out


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]


def _cell(text: str) -> str:
    text = " ".join(preprocess.strip_tags(text).split())
    text = text[:SNIPPET] + ("…" if len(text) > SNIPPET else "")
    return text.replace("|", "\\|")


def write_report(task, outputs: dict[str, Tensor], metrics: dict[str, Any], ctx: Context) -> None:
    """Write the split's confusion PNG, Markdown report and highlighted documents."""
    split, run_dir, state = ctx.split, ctx.run_dir, ctx.state
    classes = [str(c) for c in state["classes"]]
    title = f"{split}: accuracy {metrics['accuracy']:.4f}"
    plot_confusion(metrics["confusion"], classes, run_dir / f"confusion_{split}.png", title)

    lines = [f"# {split}: {metrics['accuracy']:.4f} accuracy", ""]
    rows = [["RNN (this run)", f"{metrics['accuracy']:.4f}", f"{metrics['f1']:.4f}"]]
    for name, scores in (state.get("baselines") or {}).items():
        if split in scores:
            s = scores[split]
            rows.append([f"{name} (C={scores['C']})", f"{s['accuracy']:.4f}", f"{s['f1']:.4f}"])
    lines += _table(["model", "accuracy", "macro F1"], rows) + [""]
    lines += ["## Per class", ""]
    lines += _table(
        ["class", "precision", "recall", "F1", "support"],
        [[c, f"{v['precision']:.4f}", f"{v['recall']:.4f}", f"{v['f1']:.4f}", v["support"]]
         for c, v in metrics["per_class"].items()],
    )  # fmt: skip
    docs = ctx.data.extra.get(split) if ctx.data is not None and ctx.data.extra else None
    if docs is not None and ctx.config.report.wrong:
        probs = torch.softmax(outputs["logits"].float(), dim=1)
        confidence, predicted = probs.max(1)
        wrong = (predicted != outputs["target"]).nonzero().squeeze(1)
        worst = wrong[confidence[wrong].argsort(descending=True)][: ctx.config.report.wrong]
        lines += ["", f"## The {len(worst)} most confidently wrong documents", ""]
        lines += _table(
            ["document", "true", "predicted", "confidence", "text"],
            [[docs.names[i], classes[int(outputs["target"][i])], classes[int(predicted[i])],
              f"{float(confidence[i]):.3f}", _cell(docs.texts[i])] for i in worst.tolist()],
        )  # fmt: skip
        if ctx.config.report.highlight and ctx.config.model.pooling in (
            "attention",
            "max",
            "mean+max",
        ):
            _highlight(task, docs, probs, outputs["target"], ctx)
    (run_dir / f"report_{split}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _highlight(task, docs, probs: Tensor, target: Tensor, ctx: Context) -> None:
    """``attention_<split>.html``: chosen documents, tokens shaded by the model's weights."""
    config, state = ctx.config, ctx.state
    confidence, predicted = probs.max(1)
    tokens = preprocess.tokenize(docs.texts, config.text, state["subwords"])
    short = torch.tensor([0 < len(t) <= SHORT for t in tokens])
    k = config.report.highlight
    chosen = []
    for right, room in ((False, k // 2), (True, k)):  # up to half wrong, right ones fill up
        index = (((predicted == target) == right) & short).nonzero().squeeze(1)
        ranked = index[confidence[index].argsort(descending=True)].tolist()
        chosen += ranked[: min(room, k - len(chosen))]
    if not chosen:
        return
    ckpt = load_checkpoint(ctx.run_dir, prefer="best")
    model = task.build_model(config, ckpt.task_state)
    ckpt.load_into(model)
    model.eval()
    vocab = preprocess.vocabulary(state)
    picked = [preprocess.truncate(tokens[i], config.text) for i in chosen]
    ids, lengths = preprocess.encode(picked, config.text, vocab)
    with torch.no_grad():
        _, weights = model.classify(torch.from_numpy(ids), torch.from_numpy(lengths))
    classes = [str(c) for c in state["classes"]]
    what = (
        "attention weight" if config.model.pooling == "attention" else "share of max-pooled units"
    )
    parts = [
        "<!doctype html><meta charset='utf-8'><title>highlighted documents</title>",
        "<style>body{font:15px/1.6 sans-serif;max-width:60em;margin:2em auto}"
        "span{border-radius:3px}.doc{margin:1.5em 0;padding:.5em 1em;border:1px solid #ccc}"
        ".unk{text-decoration:underline dotted}</style>",
        f"<h1>{html.escape(ctx.split)}: tokens shaded by {what}</h1>",
        "<p>Darker red: more weight. Dotted underline: a token outside the vocabulary.</p>",
    ]
    for row, i in enumerate(chosen):
        w = weights[row, : lengths[row]]
        w = (w / w.max().clamp(min=1e-12)).tolist()
        verdict = "right" if int(predicted[i]) == int(target[i]) else "WRONG"
        parts.append(
            f"<div class='doc'><p><b>{html.escape(docs.names[i])}</b>: true "
            f"{html.escape(classes[int(target[i])])}, predicted "
            f"{html.escape(classes[int(predicted[i])])} ({float(confidence[i]):.3f}, "
            f"{verdict})</p><p>"
        )
        spans = []
        for token, a in zip(picked[row], w):
            unk = " class='unk'" if token not in vocab else ""
            spans.append(
                f"<span{unk} style='background:rgba(220,0,0,{a:.3f})' title='{a:.3f}'>"
                f"{html.escape(token)}</span>"
            )
        parts.append(" ".join(spans) + "</p></div>")
    (ctx.run_dir / f"attention_{ctx.split}.html").write_text("\n".join(parts), encoding="utf-8")
