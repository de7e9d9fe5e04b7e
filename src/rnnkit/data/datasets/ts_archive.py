"""The UEA & UCR time-series classification archive's ``.ts`` files, as classify sequences.

The archive (timeseriesclassification.com; Dau et al., 2019 for the univariate UCR part,
Bagnall et al., 2018 for the multivariate UEA part) publishes each problem as
``NAME_TRAIN.ts`` and ``NAME_TEST.ts``. Two human-motion problems come inside the wheels of
``sktime`` and ``aeon`` (BSD-3-Clause packages; the files carry no licence of their own, the
archive asks users to cite it), so they can be had with pip alone::

    pip download sktime==1.2.0 --no-deps -d wheels/      # 8 MB, nothing is installed
    python -m rnnkit.data.datasets.ts_archive BasicMotions wheels/sktime-1.2.0-py3-none-any.whl \\
        basicmotions.npz
    rnnkit classify train --data basicmotions.npz

* **BasicMotions** (UEA): a smart watch's 3-D accelerometer and 3-D gyroscope at 10 Hz for 10 s
  while standing, walking, running or playing badminton; 40 train and 40 test series of 100
  steps x 6 channels, 4 classes.
* **GunPoint** (UCR): the x coordinate of an actor's right hand, tracked on video, drawing a
  replica gun from a holster versus pointing a finger; 50 train and 150 test series of 150
  steps, 2 classes.

Where the files are read from (:func:`archive_files`): a folder holding ``NAME_TRAIN.ts`` (or a
``NAME/`` subfolder), a wheel (a zip; the member ``*/datasets/data/NAME/NAME_TRAIN.ts``), or an
installed ``sktime`` / ``aeon`` package (found without importing it).

The format (:func:`read_ts`): ``#`` comment lines, ``@key value`` header lines up to ``@data``,
then one case per line: the channels separated by ``:``, each a comma-separated series, and the
class label last. Every problem is a :class:`~rnnkit.data.DataError` naming file and line.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError

PACKAGES = ("sktime", "aeon")  # wheels that carry BasicMotions and GunPoint


def read_ts(text: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Cases (N, T, D) float64 and labels (N,) str of one ``.ts`` file's text.

    Equal-length problems only (``@equalLength true``); missing values (``?``) are refused.
    """
    header: dict[str, str] = {}
    cases, labels = [], []
    in_data = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DataError(f"{where}: line {number}: expected an @ header line or @data")
            key, _, value = line[1:].partition(" ")
            header[key.lower()] = value.strip()
            in_data = key.lower() == "data"
            continue
        *channels, label = line.split(":")
        if not channels:
            raise DataError(f"{where}: line {number}: a case needs values and a class label")
        try:
            series = [np.array(c.split(","), dtype=np.float64) for c in channels]
        except ValueError as e:
            raise DataError(f"{where}: line {number}: {e}") from None
        lengths = {len(s) for s in series}
        if len(lengths) != 1:
            raise DataError(f"{where}: line {number}: channels of lengths {sorted(lengths)}")
        if cases and (len(series), len(series[0])) != cases[0].shape[::-1]:
            raise DataError(
                f"{where}: line {number}: {len(series)} channels of {len(series[0])} steps, "
                f"the first case has {cases[0].shape[1]} of {cases[0].shape[0]}"
            )
        stacked = np.stack(series, axis=1)  # (T, D)
        if not np.isfinite(stacked).all():
            raise DataError(f"{where}: line {number}: missing or non-finite values")
        cases.append(stacked)
        labels.append(label.strip())
    if not in_data:
        raise DataError(f"{where}: no @data line")
    if not cases:
        raise DataError(f"{where}: no cases after @data")
    declared = header.get("classlabel", "").split()
    if declared[:1] == ["true"]:
        unknown = sorted(set(labels) - set(declared[1:]))
        if unknown:
            raise DataError(f"{where}: labels {unknown[:5]} are not in @classLabel")
    return np.stack(cases), np.array(labels)


def archive_files(name: str, source: str | Path | None = None) -> dict[str, tuple[str, str]]:
    """``{"train": (text, where), "test": (text, where)}`` of problem ``name`` from ``source``
    (a folder or a wheel), else from an installed sktime or aeon package."""
    members = [f"{name}_TRAIN.ts", f"{name}_TEST.ts"]
    if source is None:
        for package in PACKAGES:
            spec = importlib.util.find_spec(package)
            if spec and spec.submodule_search_locations:
                folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
                if (folder / name / members[0]).is_file():
                    return archive_files(name, folder / name)
        raise FileNotFoundError(
            f"{name}: give a folder or wheel holding {members[0]} (e.g. `pip download "
            f"sktime --no-deps -d wheels/`); no installed {' or '.join(PACKAGES)} has it"
        )
    source = Path(source)
    if source.is_dir():
        folder = source / name if (source / name / members[0]).is_file() else source
        found = {}
        for split, member in zip(("train", "test"), members):
            path = folder / member
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
            found[split] = (path.read_text(encoding="utf-8", errors="replace"), str(path))
        return found
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file or folder")
    try:
        with zipfile.ZipFile(source) as wheel:
            names = wheel.namelist()
            found = {}
            for split, member in zip(("train", "test"), members):
                hits = [n for n in names if n.endswith(f"/data/{name}/{member}")]
                if not hits:
                    raise DataError(f"{source}: holds no {member}")
                text = io.TextIOWrapper(wheel.open(hits[0]), encoding="utf-8").read()
                found[split] = (text, f"{source}!{hits[0]}")
            return found
    except zipfile.BadZipFile:
        raise DataError(f"{source}: neither a folder nor a wheel (zip) file") from None


def load_archive(name: str, source: str | Path | None = None) -> dict[str, np.ndarray]:
    """Problem ``name`` as classify's ``.npz`` arrays: ``x_train`` (N, T, D) float32,
    ``y_train`` (N,) labels, ``x_test``, ``y_test``."""
    arrays = {}
    for split, (text, where) in archive_files(name, source).items():
        x, y = read_ts(text, where)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x.astype(np.float32), y
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DataError(
            f"{name}: train cases are {arrays['x_train'].shape[1:]}, test cases "
            f"{arrays['x_test'].shape[1:]} (steps, channels)"
        )
    return arrays


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m rnnkit.data.datasets.ts_archive",
        description="Write a UEA/UCR archive problem as an .npz for `rnnkit classify --data`.",
    )
    parser.add_argument("name", help="problem name, e.g. BasicMotions or GunPoint")
    parser.add_argument("source", nargs="?", help="folder or wheel with NAME_TRAIN.ts")
    parser.add_argument("out", help="the .npz to write")
    args = parser.parse_args(argv)
    try:
        arrays = load_archive(args.name, args.source)
    except (DataError, OSError) as e:
        parser.exit(1, f"Error: {e}\n")
    np.savez_compressed(args.out, **arrays)
    print(
        f"wrote {args.out}: {len(arrays['x_train'])} train and {len(arrays['x_test'])} test "
        f"series of {arrays['x_train'].shape[1]} steps x {arrays['x_train'].shape[2]} channels, "
        f"classes {sorted(map(str, set(arrays['y_train'])))}"
    )


if __name__ == "__main__":
    main()
