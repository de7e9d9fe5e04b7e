"""Where data sets live, and fetching them once with checksums.

Every loader takes a data directory: the one given (``--data-dir``), else ``$RNNKIT_DATA``, else
``~/.cache/rnnkit``. A file that is present is used as is; a missing one is downloaded to a
temporary file in the same folder, its sha256 checked, and only then renamed into place, so the
cache never holds a half-written or wrong file. Offline, the error says which file to put where.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "RNNKIT_DATA"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory: ``explicit``, else ``$RNNKIT_DATA``, else ``~/.cache/rnnkit``."""
    if explicit is not None:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path.home() / ".cache" / "rnnkit"


@dataclass(frozen=True)
class RemoteFile:
    """A published file: its name in the data set's folder, where to get it, its sha256."""

    name: str
    url: str
    sha256: str


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def ensure_file(folder: Path, remote: RemoteFile, download: bool = True) -> Path:
    """Path of ``remote`` inside ``folder``, downloading and verifying it first if missing.

    Raises FileNotFoundError naming the file, the folder and the source when it is missing and
    cannot be downloaded, and ValueError when a download's checksum does not match.
    """
    target = folder / remote.name
    if target.is_file():
        return target
    hint = (
        f"{target} is missing. Put the file there (source: {remote.url}, sha256 {remote.sha256}) "
        f"or point --data-dir / ${ENV_VAR} at a folder that has it"
    )
    if not download:
        raise FileNotFoundError(hint)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{remote.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(remote.url, timeout=60) as response:
            while block := response.read(1 << 20):
                out.write(block)
        actual = sha256_of(tmp)
        if actual != remote.sha256:
            raise ValueError(
                f"downloaded {remote.url} has sha256 {actual}, expected {remote.sha256}; "
                f"nothing was saved to {target}"
            )
        os.replace(tmp, target)
    except OSError as error:  # no network, DNS failure, HTTP error, disk full
        raise FileNotFoundError(f"{hint} (download failed: {error})") from error
    finally:
        tmp.unlink(missing_ok=True)
    return target


def dataset_files(
    name: str,
    remotes: dict[str, RemoteFile],
    root: str | os.PathLike | None = None,
    download: bool = True,
) -> dict[str, Path]:
    """The files of data set ``name`` (key -> path), fetched with :func:`ensure_file` if missing.

    They are looked for in the data directory itself, then in its ``name`` subfolder; a copy
    kept gzipped beside the name (``FILE.gz``) is used as it is.
    """
    base = data_dir(root)

    def present(folder: Path, remote: RemoteFile) -> bool:
        return (folder / remote.name).is_file() or (folder / f"{remote.name}.gz").is_file()

    folder = base if all(present(base, r) for r in remotes.values()) else base / name
    paths = {}
    for key, remote in remotes.items():
        packed = folder / f"{remote.name}.gz"
        plain = folder / remote.name
        use_packed = packed.is_file() and not plain.is_file()
        paths[key] = packed if use_packed else ensure_file(folder, remote, download)
    return paths
