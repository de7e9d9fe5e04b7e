"""fra-eng: 142,787 English-French sentence pairs from Tatoeba, as the Anki flash-card archive.

``fra.txt`` inside ``fra-eng.zip`` holds ``English<TAB>French`` lines, sorted roughly by length
(the 2017-09-29 release, before an attribution column was added). Many English sentences have
several French translations (98,659 distinct English sentences). From www.manythings.org/anki
(the file of that date, kept at github.com/genimind/seq2seq, commit 4f3f8eb0); licence CC BY 2.0
France, attribution www.manythings.org/anki and tatoeba.org. The archive lives in
``<data dir>/eng-fra/`` (or the data directory itself) and is downloaded and checked when missing.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from ..errors import DataError
from ..fetch import RemoteFile, dataset_files
from ..parallel import ParallelText, parse_tsv

NAME = "eng-fra"
REMOTES = {
    "archive": RemoteFile(
        "fra-eng.zip",
        "https://raw.githubusercontent.com/genimind/seq2seq/"
        "4f3f8eb0adde54fcc8b89394336b002e7961244c/fra-eng.zip",
        "16c4f7d0df9e7c5e6c54cdb0447f3f4a18a55052ff5e2e0b27dd4a06c0e49d04",
    )
}
MEMBER = "fra.txt"


def path(root: str | os.PathLike | None = None, download: bool = True) -> Path:
    """``fra-eng.zip`` in ``<data dir>/eng-fra`` (or the data directory itself), downloaded and
    checked first when missing."""
    return dataset_files(NAME, REMOTES, root, download)["archive"]


def load(root: str | os.PathLike | None = None, download: bool = True) -> ParallelText:
    """The English-French pairs of ``fra.txt`` inside the archive (English is the source)."""
    archive = path(root, download)
    try:
        with zipfile.ZipFile(archive) as z:
            raw = z.read(MEMBER)
    except (zipfile.BadZipFile, KeyError) as error:
        raise DataError(f"{archive}: not the fra-eng archive ({error})") from None
    return parse_tsv(raw, f"{archive}:{MEMBER}")
