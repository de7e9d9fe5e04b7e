"""Checkpoints that load without running code, written atomically.

A checkpoint is a directory::

    checkpoints/best/
        model.safetensors     the model's weights (any safetensors reader opens it)
        config.json           the run's resolved configuration
        task.json             the task's data state: vocabulary, scaler, class names ...
        trainer.json          optimiser/loop/callback state, with tensors referenced by name
        trainer.safetensors   ... and those tensors (resumable checkpoints only)
        checkpoint.json       format tag, version, and each file's size and SHA-256

Loading never unpickles: weights and optimiser tensors come from safetensors, everything else
from JSON. ``checkpoint.json`` is written last, and every file is checked against it, so a
truncated, corrupt or foreign file is refused with an error naming it.

Saving writes the new directory beside the old one, then swaps them with two renames; a crash
at any point leaves the previous checkpoint loadable (between the two renames it sits at
``.NAME.old``, where :func:`load_checkpoint` and the next save find it).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

FORMAT = "rnnkit-checkpoint"
VERSION = 1
MODEL_FILE = "model.safetensors"
TRAINER_FILE = "trainer.safetensors"


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, foreign or unsafe; the message names the file."""


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        path: the checkpoint directory.
        weights: the model's state dict.
        config: the resolved configuration (nested dict).
        task_state: the task's data state (vocabulary, scaler ...).
        trainer_state: optimiser, loop and callback state, or None for a weights-only save.
        info: the contents of ``checkpoint.json`` (task name, epoch ...).
    """

    path: Path
    weights: dict[str, Tensor]
    config: dict[str, Any]
    task_state: dict[str, Any]
    trainer_state: dict[str, Any] | None
    info: dict[str, Any]

    def load_into(self, model: nn.Module) -> nn.Module:
        """Copy the weights into ``model`` (every key must match); return the model."""
        try:
            model.load_state_dict(self.weights, strict=True)
        except RuntimeError as e:
            raise CheckpointError(
                f"{self.path / MODEL_FILE}: the weights do not fit the model: {e}"
            ) from None
        return model


# ------------------------------------------------------------------------------------- saving
def save_checkpoint(
    path: str | Path,
    weights: dict[str, Tensor],
    config: dict[str, Any],
    task_state: dict[str, Any],
    trainer_state: dict[str, Any] | None = None,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint directory at ``path`` atomically (see the module docstring)."""
    path = Path(path)
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    old = parent / f".{path.name}.old"
    tmp = parent / f".{path.name}.tmp"
    if not path.exists() and old.exists():  # a previous save died between its two renames
        os.rename(old, path)
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    tmp.mkdir()

    files: dict[str, Any] = {}
    save_file(_plain_tensors(weights), str(tmp / MODEL_FILE), metadata={"format": FORMAT})
    _write_json(tmp / "config.json", config)
    _write_json(tmp / "task.json", task_state)
    if trainer_state is not None:
        tensors: dict[str, Tensor] = {}
        tree = encode_tree(trainer_state, tensors)
        save_file(_plain_tensors(tensors), str(tmp / TRAINER_FILE), metadata={"format": FORMAT})
        _write_json(tmp / "trainer.json", tree)
    for f in sorted(tmp.iterdir()):
        _fsync(f)
        files[f.name] = {"bytes": f.stat().st_size, "sha256": _sha256(f)}
    _write_json(
        tmp / "checkpoint.json",
        {"format": FORMAT, "version": VERSION, **(info or {}), "files": files},
    )
    _fsync(tmp / "checkpoint.json")
    _fsync(tmp)

    if path.exists():
        os.rename(path, old)
    os.rename(tmp, path)
    _fsync(parent)
    if old.exists():
        shutil.rmtree(old)
    return path


def recover_checkpoints(folder: str | Path) -> None:
    """Finish what a killed save left in a checkpoints folder: a checkpoint that sits at
    ``.NAME.old`` (the process died between the two renames) goes back to ``NAME``, and the
    half-written ``.NAME.tmp`` folders are removed. Complete checkpoints are not touched."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for old in folder.glob(".*.old"):
        target = folder / old.name[1:].removesuffix(".old")
        if old.is_dir() and not target.exists():
            os.rename(old, target)
    for leftover in [*folder.glob(".*.tmp"), *folder.glob(".*.old")]:
        if leftover.is_dir():
            shutil.rmtree(leftover)


def update_task_state(path: str | Path, task_state: dict[str, Any]) -> Path:
    """Rewrite the checkpoint at ``path`` with another task state (atomically, as a save)."""
    ckpt = load_checkpoint(path)
    info = {k: v for k, v in ckpt.info.items() if k not in ("format", "version", "files")}
    return save_checkpoint(
        ckpt.path, ckpt.weights, ckpt.config, task_state, ckpt.trainer_state, info
    )


def _plain_tensors(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """Contiguous CPU tensors, with storage shared between entries copied (safetensors needs it)."""
    out: dict[str, Tensor] = {}
    seen: set[int] = set()
    for name, t in tensors.items():
        t = t.detach().to("cpu").contiguous()
        if t.numel():
            storage = t.untyped_storage()
            if storage.data_ptr() in seen or storage.nbytes() != t.numel() * t.element_size():
                t = t.clone()
            seen.add(t.untyped_storage().data_ptr())
        out[name] = t
    return out


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------------------ loading
def resolve_checkpoint(path: str | Path, prefer: str = "best") -> Path:
    """The checkpoint directory meant by ``path``: a run directory (its ``checkpoints/best``,
    else ``checkpoints/last``), a checkpoint directory, or a file inside one."""
    path = Path(path)
    if path.is_file():
        if (path.parent / "checkpoint.json").is_file():
            return path.parent
        raise CheckpointError(f"{path}: {_describe_foreign_file(path)}")
    if (path / "checkpoints").is_dir():
        order = (prefer, "last") if prefer != "last" else ("last",)
        for name in order:
            candidate = _existing(path / "checkpoints" / name)
            if candidate is not None:
                return candidate
        raise CheckpointError(f"{path}: the run directory holds no checkpoint in checkpoints/")
    found = _existing(path)
    if found is None:
        raise CheckpointError(f"{path}: no such checkpoint")
    return found


def _existing(path: Path) -> Path | None:
    if path.is_dir():
        return path
    old = path.parent / f".{path.name}.old"  # a save that died between its renames
    return old if old.is_dir() else None


def load_checkpoint(path: str | Path, prefer: str = "best") -> Checkpoint:
    """Load and verify a checkpoint (see :func:`resolve_checkpoint` for what ``path`` may be).

    Raises :class:`CheckpointError` naming the offending file when anything is missing,
    truncated, corrupt, foreign or a pickle.
    """
    directory = resolve_checkpoint(path, prefer)
    info = _read_json(
        directory / "checkpoint.json", missing="not an rnnkit checkpoint (no checkpoint.json)"
    )
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(
            f"{directory / 'checkpoint.json'}: not an rnnkit checkpoint (format tag missing)"
        )
    if info.get("version") != VERSION:
        raise CheckpointError(
            f"{directory / 'checkpoint.json'}: checkpoint format version {info.get('version')!r}, "
            f"this rnnkit reads version {VERSION}"
        )
    files = info.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise CheckpointError(f"{directory / 'checkpoint.json'}: no file list")
    for name, expected in files.items():
        _verify(directory / name, expected)

    weights = _read_tensors(directory / MODEL_FILE)
    config = _read_json(directory / "config.json")
    task_state = _read_json(directory / "task.json")
    trainer_state = None
    if "trainer.json" in files:
        tensors = _read_tensors(directory / TRAINER_FILE)
        trainer_state = decode_tree(
            _read_json(directory / "trainer.json"), tensors, directory / "trainer.json"
        )
    return Checkpoint(directory, weights, config, task_state, trainer_state, info)


def _verify(path: Path, expected: Any) -> None:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing from the checkpoint")
    size = path.stat().st_size
    if size != expected.get("bytes"):
        raise CheckpointError(
            f"{path}: {size} bytes, the checkpoint recorded {expected.get('bytes')} "
            "(truncated or changed)"
        )
    if _sha256(path) != expected.get("sha256"):
        raise CheckpointError(f"{path}: checksum mismatch (the file is corrupt or was changed)")


def _read_json(path: Path, missing: str = "missing from the checkpoint") -> Any:
    if not path.is_file():
        raise CheckpointError(f"{path}: {missing}")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None


def _read_tensors(path: Path) -> dict[str, Tensor]:
    if path.is_file() and _sniff(path) != "safetensors":
        raise CheckpointError(f"{path}: {_describe_foreign_file(path)}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(
            f"{path}: not a readable safetensors file (truncated or corrupt): {e}"
        ) from None


def _sniff(path: Path) -> str:
    """What a file's first bytes say it is: safetensors, pickle, zip (torch.save) or other."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(10)
    header = int.from_bytes(head[:8], "little") if len(head) >= 9 else 0
    if 0 < header <= size - 8 and head[8:9] == b"{":  # u64 header length, then JSON
        return "safetensors"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:  # PROTO opcode
        return "pickle"
    return "other"


def _describe_foreign_file(path: Path) -> str:
    if _sniff(path) in ("pickle", "zip"):
        return (
            "is a pickle (torch.save / Lightning .ckpt) file; rnnkit refuses to unpickle "
            "checkpoints because unpickling can run arbitrary code"
        )
    return "not an rnnkit checkpoint (expected a checkpoint directory with checkpoint.json)"


# ------------------------------------------------------------------ nested state <-> JSON + tensors
def encode_tree(obj: Any, tensors: dict[str, Tensor], where: str = "state") -> Any:
    """JSON for a nested structure of dicts, lists, tuples, numbers, strings and tensors.

    Tensors move into ``tensors`` under a generated name and are referenced as
    ``{"__tensor__": name}``; tuples, dicts with non-string keys and non-finite floats are
    tagged so that :func:`decode_tree` rebuilds them exactly. Anything else is refused.
    """
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = obj
        return {"__tensor__": name}
    if isinstance(obj, torch.Size):
        obj = tuple(obj)
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_tree(v, tensors, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode_tree(v, tensors, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_tree(v, tensors, f"{where}.{k}") for k, v in obj.items()}
        return {
            "__dict__": [
                [encode_tree(k, tensors, where), encode_tree(v, tensors, f"{where}.{k}")]
                for k, v in obj.items()
            ]
        }
    if hasattr(obj, "item") and hasattr(obj, "dtype"):  # a NumPy scalar
        return encode_tree(obj.item(), tensors, where)
    raise CheckpointError(f"cannot store {type(obj).__name__} at {where} in a checkpoint safely")


def decode_tree(obj: Any, tensors: dict[str, Tensor], source: Path | str = "<json>") -> Any:
    """Rebuild what :func:`encode_tree` encoded."""
    if isinstance(obj, list):
        return [decode_tree(v, tensors, source) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        name = obj["__tensor__"]
        if name not in tensors:
            raise CheckpointError(f"{source}: refers to tensor {name!r}, which is missing")
        return tensors[name]
    if "__tuple__" in obj:
        return tuple(decode_tree(v, tensors, source) for v in obj["__tuple__"])
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__dict__" in obj:
        return {
            decode_tree(k, tensors, source): decode_tree(v, tensors, source)
            for k, v in obj["__dict__"]
        }
    return {k: decode_tree(v, tensors, source) for k, v in obj.items()}
