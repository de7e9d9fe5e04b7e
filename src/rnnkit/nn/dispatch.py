"""Which path ``fused="auto"`` takes for ``RNN``, ``LSTM`` and ``GRU``: the measured rules.

Two paths compute the same layer: torch's fused kernels (``torch._VF``: oneDNN on CPU for the
LSTM only, cuDNN on CUDA) and rnnkit's scans (:mod:`rnnkit.nn.scan`: compiled C++ time loops
on CPU where they build, torch ops elsewhere). The rules below come from paired timings on 2
CPU threads (``benchmarks/recurrent.py``, ``docs/speed.md``), not from timing each call:

* CUDA (and any device but the CPU): torch's kernels (cuDNN).
* CPU, LSTM: torch's kernel (oneDNN); the compiled LSTM loop measured 0.98-1.20x its time.
* CPU, GRU and RNN, float32/float64, compiled loops built: rnnkit's loop, training and inference
  (GRU 0.58-0.71x torch.nn.GRU's training time and 0.65-0.85x its inference time; RNN
  0.54-0.69x and 0.66-0.74x). torch.nn.GRU/RNN have no oneDNN kernel on CPU.
* CPU, GRU and RNN, without the compiled loops: rnnkit's torch-op loop for training
  (0.77-0.84x), torch's kernel for inference (the torch-op loop measured 1.12-1.27x).
* One step of one sequence on CPU without gradients (generation, streaming): rnnkit's cells;
  torch's CPU kernel pays a fixed cost per call that dominates a single step (about 3x at
  N=1, H=512).
* While tracing or exporting to ONNX: torch's kernel, so the graph holds one recurrent operator.
* CPU, bfloat16 (an input or ``torch.autocast``) on a CPU whose oneDNN has no bfloat16 (no
  AVX-512-BF16 or AMX, e.g. AVX2 only): rnnkit's loops, since torch's LSTM kernel fails there
  ("could not create a primitive descriptor for the LSTM forward propagation primitive").
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import kernels

# the help of a task's ``model.fused`` option (auto | true | false), beside the rules it names
FUSED_HELP = (
    "auto: the fastest correct path for the cell and device (rnnkit.nn.dispatch: on CPU, "
    "torch's kernel for the LSTM, rnnkit's compiled loops for the GRU and the tanh RNN); "
    "true: torch's fused kernels; false: rnnkit's loops"
)


def prefers_torch_kernel(kind: str, x: Tensor) -> bool:
    """Whether ``fused="auto"`` hands this call to torch's kernel rather than rnnkit's scan.

    ``kind`` is the ``torch._VF`` function (``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu``);
    ``x`` the time-major input (L, N, H_in). Only asked when the options allow the kernel.
    """
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return True
    if x.device.type != "cpu":
        return True
    training = torch.is_grad_enabled()
    if not training and x.shape[0] == 1 and x.shape[1] == 1:
        return False
    if wants_bfloat16(x) and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return False
    if kind == "lstm":
        return True
    if kernels.usable(x):
        return False
    return not training


def wants_bfloat16(x: Tensor) -> bool:
    """Whether a CPU call computes in bfloat16: its input is, or CPU autocast is on with it."""
    autocast = torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu")
    return x.dtype == torch.bfloat16 or autocast == torch.bfloat16


def describe(kind: str) -> str:
    """What ``repr`` says of ``fused="auto"`` for this kind of layer."""
    if kind == "lstm":
        return "torch fused kernel (one step of one sequence on CPU: rnnkit cells)"
    return "rnnkit compiled loop on CPU, torch fused kernel on CUDA"
