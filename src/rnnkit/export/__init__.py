"""Models leaving the project: ONNX or TorchScript graphs with their preprocessing inside.

:func:`export_run` writes a run's graph (:mod:`.graphs`) and its metadata; :func:`export` is
the ``rnnkit export`` command.
"""

from pathlib import Path

from .exporter import FORMATS, export_run


def export(run: Path, format: str = "onnx", out: Path | None = None, checkpoint: str = "best"):
    """Export a trained run's model as ONNX or TorchScript, with a metadata JSON beside it.

    Args:
        run: run directory.
        format: onnx or torchscript.
        out: the file to write [default: RUN/model.onnx or RUN/model.pt].
        checkpoint: which checkpoint of the run: best or last.
    """
    path = export_run(run, out, format, checkpoint)
    return f"wrote {path} and {path.with_suffix('.json')}"


__all__ = ["FORMATS", "export", "export_run"]
