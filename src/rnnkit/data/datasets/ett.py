"""ETT (Electricity Transformer Temperature, ETT-small) loader and the Informer split.

Four files: ``ETTh1``, ``ETTh2`` (hourly, 17,420 rows) and ``ETTm1``, ``ETTm2`` (15-minute, 69,680
rows), columns ``date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT``; ``OT`` (oil temperature) is the usual
target. Data: Zhou et al., "Informer", AAAI 2021 (https://github.com/zhouhaoyi/ETDataset),
licence CC BY-ND 4.0.

The data directory is, in order: the ``data_dir`` argument (the CLI's ``--data-dir``), the
``RNNKIT_DATA`` environment variable, ``~/.cache/rnnkit``. A file is looked for as
``<dir>/ETT-small/<name>.csv`` or ``.csv.gz`` (also under ``<dir>/ett/``). When it is absent
and ``download_missing=True`` it is fetched from the ETDataset repository into
``<dir>/ETT-small/``, checked against its sha256 and only then moved into place, so the cache
never holds half a file.
"""

from __future__ import annotations

from pathlib import Path

from ..fetch import RemoteFile, data_dir, ensure_file
from ..splits import Split
from ..timeseries import TimeSeries, read_series

URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{name}.csv"
# sha256 and size of the uncompressed CSV files (ETDataset commit 1d16c8f4).
CHECKSUMS: dict[str, tuple[str, int]] = {
    "ETTh1": ("f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066", 2589657),
    "ETTh2": ("a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b", 2417960),
    "ETTm1": ("6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e", 10360719),
    "ETTm2": ("db973ca252c6410a30d0469b13d696cf919648d0f3fd588c60f03fdbdbadd1fd", 9677236),
}
NAMES = tuple(CHECKSUMS)
COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
TARGET = "OT"


def find_file(name: str, root: str | Path | None = None) -> Path | None:
    """The local ``<name>.csv`` or ``.csv.gz`` under the data directory, or None."""
    _check_name(name)
    base = data_dir(root)
    for folder in (base / "ETT-small", base / "ett" / "ETT-small", base):
        for suffix in (".csv", ".csv.gz"):
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def download(name: str, root: str | Path | None = None, *, url: str | None = None) -> Path:
    """Fetch ``<name>.csv`` into ``<data dir>/ETT-small/``, verify its sha256, move it into place.

    See :func:`rnnkit.data.fetch.ensure_file`: the cache holds the whole verified file or nothing.
    Raises ``FileNotFoundError`` saying where to put the file by hand when the fetch fails.
    """
    _check_name(name)
    remote = RemoteFile(f"{name}.csv", url or URL.format(name=name), CHECKSUMS[name][0])
    return ensure_file(data_dir(root) / "ETT-small", remote, download=True)


def load(
    name: str = "ETTh1", root: str | Path | None = None, *, download_missing: bool = True
) -> TimeSeries:
    """Read an ETT file (downloading it first when absent and allowed) as a :class:`TimeSeries`."""
    path = find_file(name, root)
    if path is None:
        if not download_missing:
            raise FileNotFoundError(_missing_message(name, root, "downloads are off"))
        path = download(name, root)
    return read_series(path, "date", list(COLUMNS), regular=True)


def informer_split(name: str) -> Split:
    """Train/validation/test rows of the Informer protocol: 12/4/4 months of 30 days.

    Hourly files: train rows [0, 8640), validation [8640, 11520), test [11520, 14400); the
    15-minute files use four times as many rows. Use ``split.with_context("test", lookback)`` for
    the rows test windows read (they start ``lookback`` rows before the border).
    """
    _check_name(name)
    month = 30 * 24 * (4 if name.startswith("ETTm") else 1)
    a, b, c = 12 * month, 16 * month, 20 * month
    return Split((0, a), (a, b), (b, c))


def _check_name(name: str) -> None:
    if name not in CHECKSUMS:
        raise ValueError(f"ETT dataset must be one of {NAMES}, got {name!r}")


def _missing_message(name: str, root: str | Path | None, why: str) -> str:
    return (
        f"{name}.csv not found and {why}. Put {name}.csv (or {name}.csv.gz) in "
        f"{data_dir(root) / 'ETT-small'}/ (source: {URL.format(name=name)}, sha256 "
        f"{CHECKSUMS[name][0]}) or point --data-dir / RNNKIT_DATA at a folder holding ETT-small/."
    )
