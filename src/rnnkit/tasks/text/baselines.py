"""The linear baselines an RNN document classifier must beat, fitted on the same split.

* ``tfidf_logreg``: TF-IDF of word 1-2 grams (sublinear tf, terms in >= 2 documents) and
  L2-regularised logistic regression (scikit-learn).
* ``nbsvm``: NB-SVM as NB-weighted logistic regression (Wang & Manning 2012): binary 1-2 gram
  features ``x`` scaled by the naive-Bayes log-count ratio
  ``r = log((p / |p|_1) / (q / |q|_1))``, ``p = alpha + sum_{y=c} x``, ``q = alpha + sum_{y!=c} x``,
  one-vs-rest over classes.

The regularisation ``C`` is chosen on the validation split from a small grid; the test split is
scored once with the chosen ``C``. Texts are normalised as the model's are (HTML stripped,
lower-cased when asked) and cut into words by scikit-learn.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

GRID = (1.0, 4.0, 16.0)  # TF-IDF rows have unit norm
NB_GRID = (0.05, 0.2, 0.8)  # NB-scaled binary rows are far longer: weaker C
_TOKENS = r"(?u)\b\w[\w']*\b|[!?]"


def _accuracy_f1(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    return {
        "accuracy": float((pred == y).mean()),
        "f1": float(f1_score(y, pred, average="macro")),
    }


def _fit_best(make, grid, x_train, y_train, x_val, y_val) -> tuple[Any, float]:
    best, best_acc, best_c = None, -1.0, None
    for c in grid:
        model = make(c).fit(x_train, y_train)
        acc = float((model.predict(x_val) == y_val).mean())
        if acc > best_acc:
            best, best_acc, best_c = model, acc, c
    return best, best_c


def tfidf_logreg(texts: dict[str, Sequence[str]], y: dict[str, np.ndarray]) -> dict[str, Any]:
    """Scores of TF-IDF (1-2 grams) + logistic regression per split (``validation``, ``test``)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=_TOKENS)
    x = {"train": vec.fit_transform(texts["train"])}
    x.update({s: vec.transform(texts[s]) for s in texts if s != "train"})

    def make(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=1000, solver="liblinear")

    model, c = _fit_best(make, GRID, x["train"], y["train"], x["validation"], y["validation"])
    out: dict[str, Any] = {"C": c, "features": x["train"].shape[1]}
    for split in x:
        if split != "train":
            out[split] = _accuracy_f1(model.predict(x[split]), y[split])
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


class _NBLogReg:
    """One-vs-rest logistic regression on NB-scaled binary features (see the module docstring)."""

    def __init__(self, c: float, alpha: float = 1.0) -> None:
        self.c, self.alpha = c, alpha

    def fit(self, x, y: np.ndarray) -> _NBLogReg:
        from sklearn.linear_model import LogisticRegression

        self.classes = np.unique(y)
        targets = self.classes[1:] if len(self.classes) == 2 else self.classes
        self.models = []
        for c in targets:
            pos = np.asarray(x[y == c].sum(0)).ravel() + self.alpha
            neg = np.asarray(x[y != c].sum(0)).ravel() + self.alpha
            r = np.log((pos / pos.sum()) / (neg / neg.sum()))
            lr = LogisticRegression(C=self.c, max_iter=1000, solver="liblinear")
            self.models.append((r, lr.fit(x.multiply(r).tocsr(), (y == c).astype(int))))
        return self

    def predict(self, x) -> np.ndarray:
        scores = np.stack(
            [lr.decision_function(x.multiply(r).tocsr()) for r, lr in self.models], axis=1
        )
        if len(self.classes) == 2:
            return self.classes[(scores[:, 0] > 0).astype(int)]
        return self.classes[scores.argmax(1)]


def nbsvm(texts: dict[str, Sequence[str]], y: dict[str, np.ndarray]) -> dict[str, Any]:
    """Scores of NB-weighted logistic regression on binary 1-2 grams per split."""
    from sklearn.feature_extraction.text import CountVectorizer

    started = time.perf_counter()
    vec = CountVectorizer(ngram_range=(1, 2), binary=True, token_pattern=_TOKENS)
    x = {"train": vec.fit_transform(texts["train"])}
    x.update({s: vec.transform(texts[s]) for s in texts if s != "train"})
    model, c = _fit_best(
        _NBLogReg, NB_GRID, x["train"], y["train"], x["validation"], y["validation"]
    )
    out: dict[str, Any] = {"C": c, "features": x["train"].shape[1]}
    for split in x:
        if split != "train":
            out[split] = _accuracy_f1(model.predict(x[split]), y[split])
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


BASELINES = {"tfidf_logreg": tfidf_logreg, "nbsvm": nbsvm}
