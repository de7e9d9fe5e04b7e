"""WNUT-17 Emerging and Rare Entities: named entities in noisy user text, IOB2 column files.

Tweets, Reddit, YouTube and Stack Overflow comments tagged with six entity types (person,
location, group, creative-work, corporation, product) in IOB2: train 3,394 sentences / 62,730
tokens / 1,975 entities, dev 1,009 / 15,733 / 836, test 1,287 / 23,394 / 1,079. Each line is
``token TAB tag``; sentences are separated by blank or whitespace-only lines.

From github.com/leondz/emerging_entities_17 (commit e52a2d2a). Licence: CC BY 4.0; cite
Derczynski et al. 2017, "Results of the WNUT2017 Shared Task on Novel and Emerging Entity
Recognition". The test file with gold labels is ``emerging.test.annotated``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..fetch import RemoteFile, dataset_files

NAME = "wnut17"
_BASE = (
    "https://raw.githubusercontent.com/leondz/emerging_entities_17/"
    "e52a2d2a71ac1a051ca2d532eef28653c5c02603/"
)
REMOTES = {
    "train": RemoteFile(
        "wnut17train.conll",
        _BASE + "wnut17train.conll",
        "731820e13f71af324c6b55a1575ec2ce59fbaa2a0806f8f0400b98d56cd6a7a5",
    ),
    "validation": RemoteFile(
        "emerging.dev.conll",
        _BASE + "emerging.dev.conll",
        "e053b752b8155113ca66e7db08af5f2f5f43ab993694e4774f1ec5bad42312d8",
    ),
    "test": RemoteFile(
        "emerging.test.annotated",
        _BASE + "emerging.test.annotated",
        "2aa79b764e56ec9264a1b30fdd9b70195bd00ff400b62edd8f399d5f13c178f0",
    ),
}


def paths(root: str | os.PathLike | None = None, download: bool = True) -> dict[str, Path]:
    """``{"train", "validation", "test"}`` -> the column files in ``<data dir>/wnut17`` (or the
    data directory itself), downloaded and checked first when missing."""
    return dataset_files(NAME, REMOTES, root, download)
