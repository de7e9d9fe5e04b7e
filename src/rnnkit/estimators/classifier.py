"""``rnnkit.Classifier``: sequence classification with the scikit-learn estimator API.

::

    clf = rnnkit.Classifier(model__cell="lstm", model__hidden_size=64, epochs=20)
    clf.fit(X, y)                    # X: (N, T, F) array, list of (T_i, F) arrays, or DataFrame
    clf.predict(X_new)               # class labels (the names y held)
    clf.predict_proba(X_new)         # (N, C), columns in the order of clf.classes_
    clf.score(X_test, y_test)        # accuracy

It is the ``classify`` task: the same model, training, validation split (carved from the data
given to ``fit``, ``data__val_fraction``) and run directory as ``rnnkit classify train``, and it
works in ``sklearn.pipeline.Pipeline``, ``cross_val_score`` and ``GridSearchCV``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from rnnkit.train import predict_run

from .base import Estimator
from .inputs import sequences_from, write_sequences


class Classifier(ClassifierMixin, Estimator, BaseEstimator):
    """Sequence classifier: a recurrent encoder and a linear head (see the module docstring).

    Args:
        id_column: with DataFrame inputs, the column naming each row's sequence.
        run_dir, verbose, **settings: see :class:`rnnkit.estimators.base.Estimator`.
    """

    task_name = "classify"

    def __init__(self, *, id_column: str = "sequence", **settings: Any) -> None:
        super().__init__(**settings)
        self.id_column = id_column

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"id_column": self.id_column, **super().get_params(deep)}

    def set_params(self, **params: Any) -> Classifier:
        if "id_column" in params:
            self.id_column = params.pop("id_column")
        return super().set_params(**params)

    def fit(self, X: Any, y: Any) -> Classifier:
        """Train on sequences ``X`` with labels ``y``; returns the classifier."""
        seqs = sequences_from(X, y, self.id_column)
        folder = self._new_run_dir()
        data = write_sequences(folder / "data" / "train.npz", seqs)
        self._fit_run(self.config(**{"data.path": str(data)}), folder)
        self.classes_ = np.asarray(self.run_.state["classes"])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """(N, C) class probabilities, columns in the order of ``classes_``."""
        from rnnkit.tasks.classify.task import as_batches

        run = self.run_
        seqs = sequences_from(X, None, self.id_column)
        if seqs.num_features != run.state["num_features"]:
            raise ValueError(
                f"X: sequences have {seqs.num_features} features, the model was trained on "
                f"{run.state['num_features']}"
            )
        return predict_run(run, as_batches(seqs, run.state, "X"), progress=False)["probs"].numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sequence, as the labels ``fit`` was given."""
        probs = self.predict_proba(X)  # first: it says when the classifier is not fitted
        return self.classes_[probs.argmax(axis=1)]

    def __sklearn_is_fitted__(self) -> bool:
        return self._run is not None
