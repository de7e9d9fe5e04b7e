"""What every estimator shares: settings as keyword arguments, a run directory, save and load.

An estimator is a task used from Python, scikit-learn style. Its settings are the task's typed
configuration, the same names as the command line's with ``__`` for the dot
(``--model.hidden_size 64`` is ``model__hidden_size=64``; the command line's short forms such as
``horizon=12`` work too), checked the same way, with errors that name the keyword argument::

    clf = rnnkit.Classifier(model__cell="lstm", epochs=20).fit(X, y)

``fit`` trains through the same engine and writes the same run directory as ``rnnkit TASK
train`` (the data it was given are written there first, under ``data/``, so the run can be
re-read and repeated); without ``run_dir`` the run lives in a temporary folder for as long as
the estimator does. ``save(path)`` keeps it, ``rnnkit.load(path)`` brings it back.
"""

from __future__ import annotations

import difflib
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from rnnkit import console
from rnnkit.config import ConfigError, build, flatten, python_name, settings, to_dict
from rnnkit.tasks import get_task
from rnnkit.train import LoadedRun, fit, load_run

COMMON_ALIASES = {"epochs": "train.epochs", "seed": "train.seed"}


class Estimator:
    """Base of the estimators: settings, fitting through the engine, saving and exporting.

    Args:
        run_dir: where the run directory goes (default: a temporary folder).
        verbose: print one line per epoch on stderr, as the command line does.
        **settings: the task's settings, ``section__key=value`` or a short form.
    """

    task_name: ClassVar[str]

    def __init__(self, *, run_dir: str | Path | None = None, verbose: bool = False, **settings):
        self.run_dir = run_dir
        self.verbose = verbose
        self._settings = dict(settings)
        self._check_names(self._settings)
        self._run: LoadedRun | None = None
        self._folder: tempfile.TemporaryDirectory | None = None

    # ------------------------------------------------------------------------- parameters
    @property
    def task(self):
        return get_task(self.task_name)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters (scikit-learn's protocol): ``run_dir``, ``verbose`` and
        every setting given."""
        return {"run_dir": self.run_dir, "verbose": self.verbose, **self._settings}

    def set_params(self, **params: Any) -> Estimator:
        """Change parameters (scikit-learn's protocol); names are checked as in ``__init__``."""
        for name in ("run_dir", "verbose"):
            if name in params:
                setattr(self, name, params.pop(name))
        self._check_names(params)
        self._settings.update(params)
        return self

    def _aliases(self) -> dict[str, str]:
        return {**COMMON_ALIASES, **self.task.aliases}

    def _check_names(self, params: dict[str, Any]) -> None:
        known = {python_name(s.key) for s in settings(self.task.config_class)}
        valid = sorted(known | set(self._aliases()))
        for name in params:
            if name not in known and name not in self._aliases():
                close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
                hint = f" — did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{type(self).__name__}: unknown setting {name!r}{hint}")

    def config(self, **overrides: Any) -> Any:
        """The resolved configuration of these settings (and ``overrides``, dotted keys)."""
        aliases = self._aliases()
        values = {}
        for name, value in self._settings.items():
            key = aliases.get(name, name.replace("__", "."))
            values[key] = value
        values.update(overrides)
        return build(self.task.config_class, {k: (v, python_name(k)) for k, v in values.items()})

    # ------------------------------------------------------------------------- the run
    def _new_run_dir(self) -> Path:
        """An empty folder for the next fit: ``run_dir``, or a new temporary one."""
        if self.run_dir is not None:
            path = Path(self.run_dir)
            if (path / "checkpoints").exists() and any((path / "checkpoints").iterdir()):
                raise ConfigError(
                    f"run_dir={str(path)!r} already holds a run; give a new folder, or none"
                )
            path.mkdir(parents=True, exist_ok=True)
            return path
        self._folder = tempfile.TemporaryDirectory(prefix=f"rnnkit-{self.task_name}-")
        return Path(self._folder.name) / "run"

    def _fit_run(self, config: Any, folder: Path) -> None:
        console.configure(quiet=not self.verbose)
        result = fit(self.task, config, folder)
        self._run = load_run(self.task, result.run_dir)
        self.metrics_ = result.metrics

    @property
    def run_(self) -> LoadedRun:
        """The trained run (after ``fit`` or ``rnnkit.load``)."""
        if self._run is None:
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit first")
        return self._run

    @property
    def path_(self) -> Path:
        """The run directory of the trained model."""
        return Path(self.run_.checkpoint.path).parents[1]

    def save(self, path: str | Path) -> Path:
        """Copy the run directory to ``path`` (which must not exist); ``rnnkit.load`` reads it."""
        path = Path(path)
        if path.exists():
            raise ValueError(f"{path} already exists; save into a new folder")
        shutil.copytree(self.path_, path)
        return path

    def export(self, path: str | Path, format: str = "onnx") -> Path:
        """Export the trained model (see :func:`rnnkit.export.export_run`)."""
        from rnnkit.export import export_run

        return export_run(self.path_, path, format)

    @classmethod
    def _from_run(cls, run: LoadedRun) -> Estimator:
        flat = _flatten(run.config)
        estimator = cls(**{python_name(k): v for k, v in flat.items()})
        estimator.run_dir = None
        estimator._run = run
        return estimator

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            f"{type(self).__name__} is saved with .save(path) and loaded with rnnkit.load(path), "
            f"not pickled"
        )


def _flatten(config: Any) -> dict[str, Any]:
    return dict(flatten(to_dict(config)))
