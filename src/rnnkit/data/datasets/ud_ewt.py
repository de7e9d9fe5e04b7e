"""Universal Dependencies English Web Treebank (UD v2.16): CoNLL-U, standard train/dev/test.

254,818 words of web text (weblogs, newsgroups, e-mail, reviews, Yahoo! Answers) in 16,622
sentences: train 12,544 sentences / 204,577 words, dev 2,001 / 25,147, test 2,077 / 25,094
(words: multiword tokens counted by their parts, empty nodes left out). Tags: UPOS (17) in
column 4, Penn Treebank XPOS (about 50) in column 5.

From github.com/UniversalDependencies/UD_English-EWT (tag r2.16; the files below are those of
commit 15d613d8). Licence: CC BY-SA 4.0 for the annotations; cite Silveira et al. 2014, "A Gold
Standard Dependency Corpus for English". The training file may be kept gzipped
(``en_ewt-ud-train.conllu.gz``).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..fetch import RemoteFile, dataset_files

NAME = "ud-english-ewt"
_BASE = (
    "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/"
    "15d613d8447b3478787d4c278730a1e48a945efb/"
)
REMOTES = {
    "train": RemoteFile(
        "en_ewt-ud-train.conllu",
        _BASE + "en_ewt-ud-train.conllu",
        "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
    ),
    "validation": RemoteFile(
        "en_ewt-ud-dev.conllu",
        _BASE + "en_ewt-ud-dev.conllu",
        "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
    ),
    "test": RemoteFile(
        "en_ewt-ud-test.conllu",
        _BASE + "en_ewt-ud-test.conllu",
        "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd",
    ),
}


def paths(root: str | os.PathLike | None = None, download: bool = True) -> dict[str, Path]:
    """``{"train", "validation", "test"}`` -> the CoNLL-U files in ``<data dir>/ud-english-ewt``
    (or the data directory itself), downloaded and checked first when missing."""
    return dataset_files(NAME, REMOTES, root, download)
