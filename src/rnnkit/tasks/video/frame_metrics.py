r"""Per-frame error measures of predicted frames, and the two baselines beside them.

For a clip's predicted frame :math:`\hat y_t` and the true frame :math:`y_t` (pixels in [0, 1],
P = C H W of them), as OpenSTL defines them:

* ``mse``: :math:`\sum_{p} (\hat y_{t,p} - y_{t,p})^2` — the squared error *summed* over the
  pixels of one frame, then averaged over frames and clips (the "MSE per frame" of the
  Moving MNIST tables; a 64 x 64 frame of zeros against two digits scores about 174);
* ``mae``: :math:`\sum_{p} |\hat y_{t,p} - y_{t,p}|`, the same way;
* ``ssim``: the structural similarity of the two frames as scikit-image's
  ``structural_similarity(pred, true, data_range=1)`` computes it (its defaults: a 7 x 7
  uniform window, sample covariances, K1 = 0.01, K2 = 0.03, the mean over the positions whose
  window lies inside the frame; channels averaged), averaged over frames and clips. It is
  computed here for whole batches at once with ``avg_pool2d`` (scikit-image loops over frames at
  about 1 ms each); the tests check it against scikit-image.

Baselines: ``copy_last`` predicts the last input frame at every future step; ``zeros`` predicts
empty frames. Every function returns (N, T) values, one per clip and future frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

METHODS = ("model", "copy_last", "zeros")


def squared_error(pred: Tensor, target: Tensor) -> Tensor:
    """(N, T, C, H, W) x 2 -> (N, T): squared error summed over each frame's pixels."""
    return (pred - target).pow(2).flatten(2).sum(2)


def absolute_error(pred: Tensor, target: Tensor) -> Tensor:
    """(N, T, C, H, W) x 2 -> (N, T): absolute error summed over each frame's pixels."""
    return (pred - target).abs().flatten(2).sum(2)


def ssim(pred: Tensor, target: Tensor, window: int = 7) -> Tensor:
    r"""(N, T, C, H, W) x 2 -> (N, T): SSIM of each frame pair, scikit-image's definition.

    With :math:`\mu, \sigma` the window means, (sample) variances and covariance,
    :math:`S = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
    {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)}`, C_1 = 0.01^2, C_2 = 0.03^2,
    averaged over the (H - 6) x (W - 6) full windows and the channels.
    """
    if min(pred.shape[-2:]) < window:
        raise ValueError(f"frames must be at least {window} x {window} for SSIM")
    N, T = pred.shape[:2]
    x = pred.detach().double().flatten(0, 2).unsqueeze(1)  # (N T C, 1, H, W)
    y = target.detach().double().flatten(0, 2).unsqueeze(1)

    def mean(a: Tensor) -> Tensor:  # over each full window: the positions scikit-image keeps
        return F.avg_pool2d(a, window, stride=1)

    mx, my = mean(x), mean(y)
    n = window * window
    cov = n / (n - 1)  # sample covariance, as scikit-image's default
    vx, vy = cov * (mean(x * x) - mx * mx), cov * (mean(y * y) - my * my)
    vxy = cov * (mean(x * y) - mx * my)
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1).view(N, T, -1).mean(2).float()


def frame_scores(inputs: Tensor, pred: Tensor, target: Tensor) -> dict[str, Tensor]:
    """Every (N, T) score of the model and the baselines: ``{method}_{mse|mae|ssim}``."""
    guesses = {
        "model": pred,
        "copy_last": inputs[:, -1:].expand_as(target),
        "zeros": torch.zeros_like(target),
    }
    scores = {}
    for method, guess in guesses.items():
        scores[f"{method}_mse"] = squared_error(guess, target)
        scores[f"{method}_mae"] = absolute_error(guess, target)
        scores[f"{method}_ssim"] = ssim(guess, target)
    return scores


def summarise(outputs: dict[str, Tensor]) -> dict[str, object]:
    """Means over clips and frames (``mse``, ``mae``, ``ssim`` for the model; the baselines as
    ``copy_last_mse`` ...), and per future frame (``mse_per_frame`` ... lists)."""
    found: dict[str, object] = {}
    for method in METHODS:
        for measure in ("mse", "mae", "ssim"):
            values = outputs[f"{method}_{measure}"].double()
            name = measure if method == "model" else f"{method}_{measure}"
            found[name] = float(values.mean())
            found[f"{name}_per_frame"] = [round(float(v), 4) for v in values.mean(0)]
    return found
