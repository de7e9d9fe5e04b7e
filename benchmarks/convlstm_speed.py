"""Speed of rnnkit's ConvLSTM step design against the two ways ConvLSTMs are usually written.

Four implementations of the same ConvLSTM layer (same weights, outputs checked equal first):

* ``rnnkit``: :class:`rnnkit.nn.ConvLSTM` as it runs on CPU (``input_conv="auto"``, here
  per step): one convolution of [x_t, h] per step for all four gates, in the generic
  :class:`~rnnkit.nn.Recurrent` layer;
* ``hoisted``: the same layer with ``input_conv="hoisted"``: the input convolution of all L
  steps in one call before the loop, then one convolution of h per step (the GPU choice);
* ``concat``: a bare loop of one convolution per step over [x_t, h] (the common PyTorch recipe,
  e.g. ndrplz/ConvLSTM_pytorch), four gates stacked — what the layer costs beyond the maths;
* ``per-gate``: eight convolutions per step, W_x· * x_t and W_h· * h for each gate, as the
  equations are written (the naive baseline).

For each shape it times a training step (forward + backward of a sum loss) and an inference
step (forward under no_grad). Implementations run alternating, in an order rotated every round;
each ratio is the median over rounds of (time / rnnkit's time) within the round, so that the
machine's drift cancels. Prints a table, writes ``benchmarks/results/convlstm_speed.json`` with
the load average before and after, wall and CPU time.

    python benchmarks/convlstm_speed.py            # 7 rounds: about a minute on 2 cores
    python benchmarks/convlstm_speed.py --quick    # 2 rounds, a smoke test (about 25 s)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import rnnkit.nn as rnn

SHAPES = [  # (N, L, C_in, C_h, H = W, kernel): the video task's, and a wider one
    (16, 10, 16, 32, 16, 3),
    (16, 10, 16, 64, 16, 3),
    (4, 10, 1, 16, 64, 5),
]


class ConcatConvLSTM(nn.Module):
    """One convolution per step over [x_t, h] -> the four gates (weights copied from rnnkit)."""

    def __init__(self, layer: rnn.ConvLSTM) -> None:
        super().__init__()
        cell = layer.cells[0]
        self.C, self.k = cell.hidden_size, cell.kernel_size[0]
        weight = torch.cat([cell.weight_ih, cell.weight_hh], dim=1).detach().clone()
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter((cell.bias_ih + cell.bias_hh).detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        L, N, _, H, W = x.shape
        h = x.new_zeros(N, self.C, H, W)
        c = torch.zeros_like(h)
        outputs = []
        for x_t in x.unbind(0):
            gates = F.conv2d(torch.cat([x_t, h], 1), self.weight, self.bias, padding=self.k // 2)
            i, f, g, o = gates.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs)


class PerGateConvLSTM(nn.Module):
    """Eight convolutions per step: W_x? * x_t + W_h? * h for ? in i, f, g, o."""

    def __init__(self, layer: rnn.ConvLSTM) -> None:
        super().__init__()
        cell = layer.cells[0]
        C, k = cell.hidden_size, cell.kernel_size[0]
        self.C = C
        self.wx = nn.ModuleList(nn.Conv2d(cell.input_size, C, k, padding=k // 2) for _ in range(4))
        self.wh = nn.ModuleList(nn.Conv2d(C, C, k, padding=k // 2, bias=False) for _ in range(4))
        with torch.no_grad():
            for j in range(4):
                rows = slice(j * C, (j + 1) * C)
                self.wx[j].weight.copy_(cell.weight_ih[rows])
                self.wx[j].bias.copy_(cell.bias_ih[rows] + cell.bias_hh[rows])
                self.wh[j].weight.copy_(cell.weight_hh[rows])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        L, N, _, H, W = x.shape
        h = x.new_zeros(N, self.C, H, W)
        c = torch.zeros_like(h)
        outputs = []
        for x_t in x.unbind(0):
            a = [self.wx[j](x_t) + self.wh[j](h) for j in range(4)]
            c = torch.sigmoid(a[1]) * c + torch.sigmoid(a[0]) * torch.tanh(a[2])
            h = torch.sigmoid(a[3]) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs)


def _train_step(model: nn.Module, x: torch.Tensor) -> None:
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    out.sum().backward()


def _infer_step(model: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        model(x)


def _block(fn, model, x, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn(model, x)
    return (time.perf_counter() - start) / repeats


def measure(shape, rounds: int, repeats: int) -> dict:
    N, L, C_in, C_h, S, k = shape
    torch.manual_seed(0)
    ours = rnn.ConvLSTM(C_in, C_h, k)
    hoisted = rnn.ConvLSTM(C_in, C_h, k, input_conv="hoisted")
    hoisted.load_state_dict(ours.state_dict())
    models = {"rnnkit": ours, "hoisted": hoisted, "concat": ConcatConvLSTM(ours),
              "per-gate": PerGateConvLSTM(ours)}  # fmt: skip
    x = torch.randn(L, N, C_in, S, S)
    with torch.no_grad():  # the four compute the same layer
        ref = ours(x)[0]
        for name in ("concat", "per-gate"):
            torch.testing.assert_close(models[name](x), ref, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(hoisted(x)[0], ref, rtol=1e-4, atol=1e-5)
    result = {}
    for mode, fn in (("train", _train_step), ("infer", _infer_step)):
        names = list(models)
        for name in names:  # warm-up
            fn(models[name], x)
        times = {name: [] for name in names}
        ratios = {name: [] for name in names}
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            got = {name: _block(fn, models[name], x, repeats) for name in order}
            for name in names:
                times[name].append(got[name])
                ratios[name].append(got[name] / got["rnnkit"])
        result[mode] = {
            name: {
                "median_ms": 1e3 * statistics.median(times[name]),
                "ratio_to_rnnkit": statistics.median(ratios[name]),
            }
            for name in names
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1 repeat")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "convlstm_speed.json")
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rounds, repeats = (2, 1) if args.quick else (7, 1)
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    rows = []
    for shape in SHAPES:
        rows.append({"shape": dict(zip(("N", "L", "C_in", "C_h", "H=W", "kernel"), shape)),
                     **measure(shape, rounds, repeats)})  # fmt: skip
        r = rows[-1]
        print(f"N={shape[0]} L={shape[1]} C_in={shape[2]} C_h={shape[3]} {shape[4]}x{shape[4]} "
              f"k={shape[5]}", flush=True)  # fmt: skip
        for mode in ("train", "infer"):
            cells = "  ".join(
                f"{name} {v['median_ms']:8.1f} ms ({v['ratio_to_rnnkit']:.2f}x)"
                for name, v in r[mode].items()
            )
            print(f"  {mode:5s}  {cells}", flush=True)
    report = {
        "rows": rows,
        "rounds": rounds,
        "repeats": repeats,
        "threads": args.threads,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"load average {load_before} -> {report['load_average_after']}; wall "
          f"{report['wall_s']:.0f} s, CPU {report['cpu_s']:.0f} s; wrote {out}")  # fmt: skip


if __name__ == "__main__":
    main()
