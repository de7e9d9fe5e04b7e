"""Forecasting networks: a recurrent encoder from :mod:`rnnkit.nn` and one of three decoders.

Shape symbols: N windows, L lookback, H horizon, C_obs observed channels (the C_out targets
first, then past-observed covariates), C_k known-future covariates, Q quantiles.

* ``direct``: encode the past, one linear head emits all H steps at once (plus the known-future
  covariates of those steps as extra head inputs).
* ``recursive``: a one-step model over every observed channel, trained with teacher forcing on
  every position of past + future, fed its own prediction H times at inference.
* ``seq2seq``: an encoder and a decoder RNN; the decoder starts from the encoder's state and
  takes the previous target value (true with probability ``teacher_forcing`` in training, else
  its own prediction) and the step's known covariates.
* ``segment``: the recurrence runs over segments of ``w`` rows and decodes all output segments
  in parallel from the encoder's state (SegRNN, :mod:`.segment`).

``linear_skip`` adds a linear map of the normalised lookback to the network's forecast, per
target channel (NLinear, Zeng et al. 2023, as a residual path):

    y = r + A (x - r) + b + f_RNN(x - r)         x: (L,) one target channel, r its reference level

so the recurrent part only has to learn what a linear autoregression of the window misses.

Instance normalisation (``norm="last"`` or ``"mean"``) subtracts each window's last value or mean
from the observed channels and adds it back to the forecast, a simple fix for the level shift
between training and test periods (cf. RevIN, Kim et al. 2022, without the affine part).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.nn import ENCODERS, make_encoder

from .segment import SegmentRecurrent

STRATEGIES = ("direct", "recursive", "seq2seq", "segment")
NORMS = ("none", "last", "mean")
LOSSES = ("mse", "mae", "huber")


class Forecaster(nn.Module):
    """``forward(past, known=None) -> (N, H, C_out)`` or ``(N, H, C_out, Q)``; ``loss(...)``.

    Args:
        n_observed: C_obs, observed channels in ``past`` (targets first).
        n_targets: C_out, the first ``n_targets`` observed channels are forecast.
        n_known: C_k, known-future covariates appended to ``past`` and given for the H steps.
        horizon: H.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"`` (:mod:`rnnkit.nn` layers, fused when possible).
        hidden_size, num_layers, dropout: the encoder's (and decoder's).
        strategy: ``"direct"``, ``"recursive"``, ``"seq2seq"`` or ``"segment"``.
        norm: instance normalisation, ``"none"``, ``"last"`` or ``"mean"``.
        quantiles: empty for a point forecast, else the levels to emit (sorted; 0.5 included).
        teacher_forcing: seq2seq only, probability of feeding the true previous value in training.
        channel_independent: (mode M) run one shared univariate network on every channel, as
            PatchTST does; the channels then share weights but not information.
        loss: the point loss, ``"mse"``, ``"mae"`` or ``"huber"`` (pinball with quantiles).
        lookback: L; needed by ``segment`` and ``linear_skip`` (their weights depend on it).
        segment_length: ``segment`` only, rows per segment (w).
        head_dropout: dropout before the output layer (``direct`` and ``segment``).
        linear_skip: add a linear map of the normalised window to the forecast (``direct`` and
            ``segment``); initialised at zero, so training starts from the network alone.

    ``past`` is (N, L, C_obs + C_k), ``known`` (N, H, C_k); :meth:`loss` also takes ``future``
    (N, H, C_obs), the true observed values of the horizon.
    """

    def __init__(
        self,
        n_observed: int,
        n_targets: int,
        horizon: int,
        *,
        n_known: int = 0,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        strategy: str = "direct",
        norm: str = "last",
        quantiles: tuple[float, ...] = (),
        teacher_forcing: float = 0.5,
        channel_independent: bool = False,
        loss: str = "mse",
        lookback: int | None = None,
        segment_length: int = 24,
        head_dropout: float = 0.0,
        linear_skip: bool = False,
    ) -> None:
        super().__init__()
        if cell not in ENCODERS:
            raise ValueError(f"cell must be one of {sorted(ENCODERS)}, got {cell!r}")
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if not 1 <= n_targets <= n_observed:
            raise ValueError(f"need 1 <= n_targets <= n_observed, got {n_targets}, {n_observed}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if quantiles and strategy == "recursive":
            raise ValueError("quantiles need strategy 'direct' or 'seq2seq', not 'recursive'")
        if quantiles and (0.5 not in quantiles or list(quantiles) != sorted(set(quantiles))):
            raise ValueError(f"quantiles must be sorted, distinct and include 0.5, got {quantiles}")
        if channel_independent and n_targets != n_observed:
            raise ValueError("channel_independent needs every observed channel to be a target (M)")
        if (strategy == "segment" or linear_skip) and lookback is None:
            raise ValueError("strategy 'segment' and linear_skip need the lookback: pass lookback")
        if linear_skip and strategy not in ("direct", "segment"):
            raise ValueError(f"linear_skip needs strategy 'direct' or 'segment', not {strategy!r}")
        if strategy == "segment" and n_known:
            raise ValueError("strategy 'segment' takes no known-future covariates")
        # Channel-independent: one shared univariate network run on each channel separately.
        self.channel_independent = channel_independent
        self.n_channels = n_observed
        if channel_independent:
            n_observed = n_targets = 1
        self.n_observed, self.n_targets, self.n_known = n_observed, n_targets, n_known
        self.horizon, self.strategy, self.norm = horizon, strategy, norm
        self.quantiles = tuple(float(q) for q in quantiles)
        self.n_q = max(1, len(self.quantiles))
        self.teacher_forcing = teacher_forcing
        self.loss_kind = loss
        rnn_args = dict(num_layers=num_layers, batch_first=True, dropout=dropout)
        if strategy != "segment":  # the segment network owns its recurrent layer
            self.encoder = make_encoder(cell, n_observed + n_known, hidden_size, **rnn_args)
        self.head_dropout = nn.Dropout(head_dropout)
        if strategy == "direct":
            self.head = nn.Linear(hidden_size + horizon * n_known, horizon * n_targets * self.n_q)
        elif strategy == "segment":
            self.segments = SegmentRecurrent(
                cell, n_observed, n_targets * self.n_q, lookback, horizon, segment_length,
                hidden_size, num_layers=num_layers, dropout=dropout, head_dropout=head_dropout,
            )  # fmt: skip
        elif strategy == "recursive":
            self.head = nn.Linear(hidden_size, n_observed)
        else:
            self.decoder = make_encoder(cell, n_targets + n_known, hidden_size, **rnn_args)
            self.head = nn.Linear(hidden_size, n_targets * self.n_q)
        self.skip = None
        if linear_skip:
            # zero start: the forecast begins as the network's own; the linear path grows only
            # as far as the loss asks for it
            self.skip = nn.Linear(lookback, horizon)
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

    # -- instance normalisation ---------------------------------------------------------------

    def _reference(self, past: Tensor) -> Tensor:
        """(N, 1, C_obs) level subtracted from the observed channels of each window."""
        obs = past[..., : self.n_observed]
        if self.norm == "last":
            return obs[:, -1:].detach()
        if self.norm == "mean":
            return obs.mean(dim=1, keepdim=True).detach()
        return torch.zeros_like(obs[:, -1:])

    def _normalise(self, past: Tensor, ref: Tensor) -> Tensor:
        obs = past[..., : self.n_observed] - ref
        return torch.cat([obs, past[..., self.n_observed :]], dim=-1)

    # -- forward ------------------------------------------------------------------------------

    def forward(self, past: Tensor, known: Tensor | None = None) -> Tensor:
        N = past.shape[0]
        past, known, _ = self._prepare(past, known, None)
        return self._merge(self._forward(past, known, None), N)

    def _prepare(self, past: Tensor, known: Tensor | None, future: Tensor | None):
        """Check and default ``known``; fold channels into the batch when channel-independent."""
        N, L, width = past.shape
        expected = self.n_channels + self.n_known
        if width != expected:
            raise ValueError(f"past must have {expected} channels (observed + known), got {width}")
        if self.n_known and known is None:
            raise ValueError(f"this model takes {self.n_known} known-future covariates: pass known")
        known = past.new_zeros(N, self.horizon, 0) if known is None else known
        if not self.channel_independent:
            return past, known, future
        C = self.n_channels
        obs = past[..., :C].transpose(1, 2).reshape(N * C, L, 1)  # (N*C, L, 1)
        past = torch.cat([obs, past[..., C:].repeat_interleave(C, dim=0)], dim=-1)
        known = known.repeat_interleave(C, dim=0)
        if future is not None:
            future = future[..., :C].transpose(1, 2).reshape(N * C, -1, 1)
        return past, known, future

    def _merge(self, y: Tensor, N: int) -> Tensor:
        """(N*C, H, 1[, Q]) back to (N, H, C[, Q]) when channel-independent."""
        if not self.channel_independent:
            return y
        y = y.reshape(N, self.n_channels, *y.shape[1:])  # (N, C, H, 1[, Q])
        return y.squeeze(3).transpose(1, 2)

    def _forward(self, past: Tensor, known: Tensor, future: Tensor | None) -> Tensor:
        ref = self._reference(past)  # (N, 1, C_obs)
        x = self._normalise(past, ref)  # (N, L, C_obs + C_k)
        if future is not None:
            future = future[..., : self.n_observed] - ref
        if self.strategy == "direct":
            y = self._direct(x, known)
        elif self.strategy == "segment":
            y = self._shape(self.segments(x))
        elif self.strategy == "recursive":
            y = self._recursive(x, known)
        else:
            y = self._seq2seq(x, known, future)
        if self.skip is not None:  # (N, L, C_out) -> (N, H, C_out)
            linear = self.skip(x[..., : self.n_targets].transpose(1, 2)).transpose(1, 2)
            y = y + (linear.unsqueeze(-1) if self.quantiles else linear)
        target_ref = ref[..., : self.n_targets]
        return y + (target_ref.unsqueeze(-1) if self.quantiles else target_ref)

    def _shape(self, y: Tensor) -> Tensor:
        N = y.shape[0]
        if self.quantiles:  # sorted: a lower quantile never lies above a higher one
            return y.reshape(N, self.horizon, self.n_targets, self.n_q).sort(dim=-1).values
        return y.reshape(N, self.horizon, self.n_targets)

    def _direct(self, x: Tensor, known: Tensor) -> Tensor:
        _, state = self.encoder(x)
        h = (state[0] if isinstance(state, tuple) else state)[-1]  # (N, hidden) top layer
        h = self.head_dropout(h)
        return self._shape(self.head(torch.cat([h, known.flatten(1)], dim=1)))

    def _recursive(self, x: Tensor, known: Tensor) -> Tensor:
        out, state = self.encoder(x)
        step = self.head(out[:, -1:])  # (N, 1, C_obs): step L + 1
        steps = [step]
        for k in range(1, self.horizon):
            out, state = self.encoder(torch.cat([step, known[:, k - 1 : k]], dim=-1), state)
            step = self.head(out)
            steps.append(step)
        return torch.cat(steps, dim=1)[..., : self.n_targets]

    def _seq2seq(self, x: Tensor, known: Tensor, future: Tensor | None) -> Tensor:
        _, state = self.encoder(x)
        prev = x[:, -1:, : self.n_targets]  # last observed targets (normalised)
        # torch's generator, which the engine seeds per epoch: runs are reproducible
        forced = (
            self.training and future is not None and bool(torch.rand(()) < self.teacher_forcing)
        )
        if forced:  # one fused decoder call over the whole horizon
            inputs = torch.cat([prev, future[:, :-1, : self.n_targets]], dim=1)
            out, _ = self.decoder(torch.cat([inputs, known], dim=-1), state)
            return self._shape(self.head(out))
        steps = []
        for k in range(self.horizon):
            out, state = self.decoder(torch.cat([prev, known[:, k : k + 1]], dim=-1), state)
            step = self.head(out)  # (N, 1, C_out * Q)
            steps.append(step)
            prev = self._point(step.reshape(-1, 1, self.n_targets, self.n_q).sort(dim=-1).values)
        return self._shape(torch.cat(steps, dim=1))

    def loss(
        self, past: Tensor, future: Tensor, known: Tensor | None = None, kind: str | None = None
    ) -> Tensor:
        """Training loss on the normalised scale; ``future`` is (N, H, C_obs).

        ``direct``/``seq2seq``: ``kind`` (``"mse"``, ``"mae"``, ``"huber"``) or the pinball loss
        when the model emits quantiles, on the C_out targets. ``recursive``: the one-step loss
        over every observed channel and every position of past + future (teacher forcing).
        """
        kind = kind or self.loss_kind
        past, known, future = self._prepare(past, known, future)
        if self.strategy != "recursive":
            y = self._forward(past, known, future)
            target = future[..., : self.n_targets]
            if self.quantiles:
                return pinball_loss(y, target, self.quantiles)
            return point_loss(y, target, kind)
        ref = self._reference(past)
        x = self._normalise(past, ref)
        seq = torch.cat([x, torch.cat([future[..., : self.n_observed] - ref, known], -1)], dim=1)
        out, _ = self.encoder(seq[:, :-1])
        return point_loss(self.head(out), seq[:, 1:, : self.n_observed], kind)

    def _point(self, y: Tensor) -> Tensor:
        return y[..., self.quantiles.index(0.5)] if self.quantiles else y[..., 0]

    def point(self, y: Tensor) -> Tensor:
        """(N, H, C_out) point forecast (the median when the model emits quantiles)."""
        return self._point(y) if self.quantiles else y


def point_loss(y: Tensor, target: Tensor, kind: str = "mse") -> Tensor:
    """``"mse"``, ``"mae"`` or ``"huber"`` (delta 1) between two tensors of the same shape."""
    if kind == "mse":
        return nn.functional.mse_loss(y, target)
    if kind == "mae":
        return nn.functional.l1_loss(y, target)
    if kind == "huber":
        return nn.functional.huber_loss(y, target)
    raise ValueError(f"loss must be 'mse', 'mae' or 'huber', got {kind!r}")


def pinball_loss(y: Tensor, target: Tensor, quantiles: tuple[float, ...]) -> Tensor:
    """Mean quantile (pinball) loss of ``y`` (..., Q) against ``target`` (...)."""
    q = torch.as_tensor(quantiles, dtype=y.dtype, device=y.device)
    diff = target.unsqueeze(-1) - y
    return torch.maximum(q * diff, (q - 1) * diff).mean()
