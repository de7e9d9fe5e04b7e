"""The Free Spoken Digit Dataset: 3,000 recordings of the digits 0-9 by six speakers (8 kHz WAV).

Licence CC BY-SA 4.0 (github.com/Jakobovski/free-spoken-digit-dataset). The standard split: takes
0-4 of every speaker and digit are test, 5-49 train. The loader reads one tar of the
repository's ``recordings/*.wav`` (how ``../shared/datasets/fsdd`` packs them); the recordings are
not published as one file, so they are never downloaded.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import read_wav
from ..fetch import RemoteFile, data_dir, ensure_file

# The archive packs the repository's recordings/*.wav (commit 26eb9aa) as described in
# ../shared/datasets/MANIFEST.md. It is not published as one file, so it is never downloaded:
# the error for a missing archive says where the recordings come from.
FSDD_ARCHIVE = RemoteFile(
    "fsdd_recordings.tar.gz",
    "https://github.com/Jakobovski/free-spoken-digit-dataset/tree/"
    "26eb9aaf76e81b692f806f9140c2d2777410d7a1/recordings",
    "90e564d943066535a78f44072129642976ef4773de00a9c333ab4f2b16eaeb72",
)
_FSDD_NAME = re.compile(r"(?:.*/)?(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<index>\d+)\.wav")


@dataclass(frozen=True)
class Recording:
    """One FSDD recording: samples (float32), rate, digit label, speaker and take index."""

    samples: np.ndarray
    rate: int
    digit: int
    speaker: str
    index: int

    @property
    def split(self) -> str:
        """The dataset's standard split: takes 0-4 of every speaker are test, 5-49 train."""
        return "test" if self.index <= 4 else "train"


def load_fsdd(
    root: str | os.PathLike | None = None, folder: str | os.PathLike | None = None
) -> list[Recording]:
    """Every recording in ``<root>/fsdd/fsdd_recordings.tar.gz`` (``folder`` instead of
    ``<root>/fsdd`` when given; any tar of ``<digit>_<speaker>_<index>.wav`` files works), sorted by
    speaker, digit and take."""
    where = Path(folder).expanduser() if folder is not None else data_dir(root) / "fsdd"
    archive = ensure_file(where, FSDD_ARCHIVE, download=False)
    recordings = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                match = _FSDD_NAME.fullmatch(member.name)
                if not (member.isfile() and match):
                    continue
                samples, rate = read_wav(tar.extractfile(member).read(), f"{archive}:{member.name}")
                recordings.append(
                    Recording(
                        samples, rate, int(match["digit"]), match["speaker"], int(match["index"])
                    )
                )
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ValueError(f"{archive}: corrupt or truncated archive ({error})") from error
    if not recordings:
        raise ValueError(f"{archive}: no recordings named <digit>_<speaker>_<index>.wav inside")
    return sorted(recordings, key=lambda r: (r.speaker, r.digit, r.index))


def fsdd_speakers(root: str | os.PathLike | None = None) -> dict:
    """Speaker metadata from ``<root>/fsdd/speakers.json`` (empty when the file is absent)."""
    path = Path(data_dir(root)) / "fsdd" / "speakers.json"
    return json.loads(path.read_text()) if path.is_file() else {}
