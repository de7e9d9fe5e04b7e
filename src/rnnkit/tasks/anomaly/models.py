"""The networks behind the detectors: a window autoencoder, or the forecasting task's model.

Shapes: N windows, L window length, C value columns, H hidden size, P forecast horizon. Both
are batch-first and built from :func:`rnnkit.nn.make_encoder` (``lstm``, ``gru`` or ``rnn``).
"""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor, nn

from rnnkit.nn import make_encoder
from rnnkit.tasks.forecast.model import Forecaster

from .config import DetectorModel


class WindowAutoencoder(nn.Module):
    """Sequence autoencoder: encoder RNN → last hidden state z → decoder RNN → window.

    The decoder reads z at every step and reconstructs the window in reverse order, last record
    first (Srivastava et al., 2015; Malhotra et al., 2016), which the output flips back.
    ``forward``: (N, L, C) -> (N, L, C); :meth:`reconstruct` also returns z (N, H), the features
    the scikit-learn detectors use.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1):
        super().__init__()
        self.encoder = make_encoder(cell, input_size, hidden_size, num_layers)
        self.decoder = make_encoder(cell, hidden_size, hidden_size, num_layers)
        self.head = nn.Linear(hidden_size, input_size)

    def encode(self, x: Tensor) -> Tensor:
        """(N, L, C) -> (N, H): the encoder's output at the last step."""
        output, _ = self.encoder(x)
        return output[:, -1]

    def reconstruct(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(N, L, C) -> the reconstruction (N, L, C) and the features z (N, H)."""
        z = self.encode(x)  # (N, H)
        repeated = z.unsqueeze(1).expand(-1, x.shape[1], -1)  # (N, L, H)
        output, _ = self.decoder(repeated)
        return self.head(output).flip(1), z  # back in time order

    def forward(self, x: Tensor) -> Tensor:
        return self.reconstruct(x)[0]


class EnsembleNetwork(nn.Module):
    """The forecaster and the window autoencoder side by side (``method=ensemble``).

    They share nothing but the optimiser: the task trains them on the sum of their losses and
    standardises each one's errors before averaging them (:func:`.scoring.ensemble_scores`).
    ``center``: the autoencoder's windows lose their mean first (``model.center``).
    """

    def __init__(self, forecaster: nn.Module, autoencoder: WindowAutoencoder, center: bool):
        super().__init__()
        self.forecaster, self.autoencoder, self.center = forecaster, autoencoder, center


def build_network(m: DetectorModel, columns: int) -> nn.Module:
    """The detector's network for ``columns`` value columns.

    ``forecast``: the forecasting task's :class:`~rnnkit.tasks.forecast.model.Forecaster`
    (direct strategy: the last state -> the next P records of every column; with
    ``model.center`` it forecasts from the window's last value, ``norm="last"``). The others:
    a :class:`WindowAutoencoder`; ``ensemble``: both in an :class:`EnsembleNetwork`.
    """
    if m.method == "ensemble":
        forecaster = build_network(replace(m, method="forecast"), columns)
        autoencoder = build_network(replace(m, method="autoencoder"), columns)
        return EnsembleNetwork(forecaster, autoencoder, m.center)
    if m.method == "forecast":
        return Forecaster(
            columns,
            columns,
            m.horizon,
            cell=m.rnn_cell,
            hidden_size=m.hidden_size,
            num_layers=m.num_layers,
            strategy="direct",
            norm="last" if m.center else "none",
        )
    return WindowAutoencoder(m.rnn_cell, columns, m.hidden_size, m.num_layers)
