"""rnnkit: recurrent neural networks from their equations to trained, saved, evaluated models.

Subpackages:
    rnnkit.nn         cells and layers in PyTorch (fused torch kernels when the options allow)
    rnnkit.reference  the NumPy mirror of rnnkit.nn, with hand-written backpropagation through time
    rnnkit.data       sequence utilities, tokenisers, vocabularies and data-set loaders
    rnnkit.train      the one training engine, checkpoints, metrics and plots
    rnnkit.tasks      one module per task family
    rnnkit.estimators Classifier, Forecaster, Detector, LanguageModel: the tasks from Python
    rnnkit.cli        the `rnnkit` command

``rnnkit.Classifier``, ``rnnkit.Forecaster``, ``rnnkit.Detector``, ``rnnkit.LanguageModel`` and
``rnnkit.load`` are the estimators (imported on first use: ``import rnnkit`` stays light).
"""

from typing import Any

__version__ = "0.1.0"
_ESTIMATORS = ("Classifier", "Forecaster", "Detector", "LanguageModel", "load")


def __getattr__(name: str) -> Any:
    if name in _ESTIMATORS:
        from rnnkit import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
