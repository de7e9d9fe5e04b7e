"""tinyshakespeare: 1,115,394 characters of Shakespeare's plays, one UTF-8 text file.

From github.com/karpathy/char-rnn (MIT; the text is in the public domain). It has no official
split; nanoGPT takes the first 90% for training and the last 10% for validation.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..fetch import RemoteFile, data_dir, ensure_file

REMOTE = RemoteFile(
    "input.txt",
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
)


def path(root: str | os.PathLike | None = None, download: bool = True) -> Path:
    """``<data dir>/tinyshakespeare/input.txt``, downloaded and checked first when missing."""
    return ensure_file(data_dir(root) / "tinyshakespeare", REMOTE, download=download)
