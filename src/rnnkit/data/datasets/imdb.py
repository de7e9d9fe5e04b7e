"""The Large Movie Review Dataset (IMDB, Maas et al. 2011): 50,000 labelled movie reviews.

Official split: 25,000 training and 25,000 test reviews, each half positive (rating >= 7) and
half negative (rating <= 4). Please cite Maas et al., "Learning Word Vectors for Sentiment
Analysis", ACL 2011, when using it.

Two files are read, whichever the data directory holds (``<dir>/imdb/`` or ``<dir>/``):

* ``imdb_50k.csv.gz``: a CSV with columns ``review, sentiment, split, id, rating`` (the
  reviews verbatim, ``<br />`` tags included); it is not published, so it is never downloaded;
* ``aclImdb_v1.tar.gz``: the published archive (``aclImdb/{train,test}/{pos,neg}/ID_RATING.txt``),
  downloaded with its sha256 checked when neither file is present.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import tarfile
from pathlib import Path

from ..documents import Documents, decode_text
from ..errors import DataError
from ..fetch import RemoteFile, data_dir, ensure_file

IMDB_ARCHIVE = RemoteFile(
    "aclImdb_v1.tar.gz",
    "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
)
IMDB_CSV = "imdb_50k.csv.gz"
LABELS = {"pos": "positive", "neg": "negative"}
_MEMBER = re.compile(r"(?:.*/)?(?P<split>train|test)/(?P<label>pos|neg)/(?P<id>\d+)_\d+\.txt")


def _folder(root: str | os.PathLike | None) -> Path:
    base = data_dir(root)
    for folder in (base / "imdb", base):
        if (folder / IMDB_CSV).is_file() or (folder / IMDB_ARCHIVE.name).is_file():
            return folder
    return base / "imdb"


def load_imdb(root: str | os.PathLike | None = None, download: bool = True) -> dict[str, Documents]:
    """``{"train": Documents, "test": Documents}`` with labels ``positive``/``negative`` and
    names ``pos/ID`` / ``neg/ID``, in the order pos then neg, by id."""
    folder = _folder(root)
    if (folder / IMDB_CSV).is_file():
        return _from_csv(folder / IMDB_CSV)
    return _from_archive(ensure_file(folder, IMDB_ARCHIVE, download=download))


def _from_csv(path: Path) -> dict[str, Documents]:
    try:
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a gzipped UTF-8 CSV ({error})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = {"review", "sentiment", "split", "id"} - set(reader.fieldnames or [])
    if missing:
        raise DataError(f"{path}: missing columns {sorted(missing)}")
    parts: dict[str, tuple[list, list, list]] = {"train": ([], [], []), "test": ([], [], [])}
    for number, row in enumerate(reader, 1):
        if row["split"] not in parts or row["sentiment"] not in LABELS.values():
            raise DataError(f"{path}: row {number}: unknown split or sentiment")
        texts, labels, names = parts[row["split"]]
        texts.append(row["review"])
        labels.append(row["sentiment"])
        names.append(f"{row['sentiment'][:3]}/{row['id']}")
    return {k: Documents(*v) for k, v in parts.items()}


def _from_archive(path: Path) -> dict[str, Documents]:
    found: dict[str, list[tuple[str, int, str]]] = {"train": [], "test": []}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                match = _MEMBER.fullmatch(member.name)
                if not (member.isfile() and match):
                    continue
                text = decode_text(tar.extractfile(member).read(), f"{path}:{member.name}")
                found[match["split"]].append((match["label"], int(match["id"]), text))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"{path}: corrupt or truncated archive ({error})") from None
    out = {}
    for split, items in found.items():
        if not items:
            raise DataError(f"{path}: no {split}/pos or {split}/neg reviews inside")
        items.sort(key=lambda item: (item[0] != "pos", item[1]))
        out[split] = Documents(
            [t for _, _, t in items],
            [LABELS[label] for label, _, _ in items],
            [f"{label}/{i}" for label, i, _ in items],
        )
    return out
