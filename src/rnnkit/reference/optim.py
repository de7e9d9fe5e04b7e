r"""Optimisers over dicts of NumPy arrays (updated in place), with torch's update rules.

``opt = Adam(params, lr=1e-3); opt.step(grads)`` where ``grads`` has the keys of ``params``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from rnnkit.reference.params import Params


def _check_lr(lr: float) -> None:
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")


class SGD:
    r""":math:`\theta \leftarrow \theta - \eta\, g`."""

    def __init__(self, params: Params, lr: float = 0.1) -> None:
        _check_lr(lr)
        self.params, self.lr = params, lr

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        for name, p in self.params.items():
            p -= self.lr * grads[name]


class Adagrad:
    r"""Adagrad (Duchi et al., 2011), as in min-char-rnn:
    :math:`G \mathrel{+}= g^2,\ \theta \leftarrow \theta - \eta\, g / (\sqrt{G} + \epsilon)`."""

    def __init__(self, params: Params, lr: float = 0.1, eps: float = 1e-10) -> None:
        _check_lr(lr)
        self.params, self.lr, self.eps = params, lr, eps
        self.sum_sq = {name: np.zeros_like(p) for name, p in params.items()}

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        for name, p in self.params.items():
            g = grads[name]
            self.sum_sq[name] += g * g
            p -= self.lr * g / (np.sqrt(self.sum_sq[name]) + self.eps)


class Adam:
    r"""Adam (Kingma & Ba, 2015) with bias correction, as ``torch.optim.Adam``:

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2
        \quad \theta \leftarrow \theta - \eta\, \frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)}
        + \epsilon}
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        _check_lr(lr)
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.t = 0

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        for name, p in self.params.items():
            g = grads[name]
            self.m[name] = beta1 * self.m[name] + (1 - beta1) * g
            self.v[name] = beta2 * self.v[name] + (1 - beta2) * g * g
            m_hat = self.m[name] / (1 - beta1**self.t)
            v_hat = self.v[name] / (1 - beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "adam": Adam}
