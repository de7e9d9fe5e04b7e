"""Looking at gradients through time: why recurrent networks forget, and what gates change.

* :mod:`.through_time` — ``||dL/dh_t||`` at every step of every recurrent layer, from one
  backward with the layers recording (:func:`rnnkit.nn.record_steps`).
* :mod:`.jacobian` — ``||dh_T/dh_t||_2`` by power iteration on Jacobian-vector products, and
  the singular values of W_hh.
* :mod:`.dynamics` — the gradient norm of every training step, before and after clipping
  (``steps.csv``).
* :mod:`.analysis`, :mod:`.plots`, :mod:`.command` — all of it for one model, its figures, and
  ``rnnkit diagnose --run DIR``.
"""

from .analysis import Analysis, SeriesResult, analyse
from .dynamics import Dynamics, read_dynamics
from .jacobian import JacobianNorms, jacobian_norms, power_iteration, recurrent_spectrum
from .through_time import Steps, gradients_through_time

__all__ = [
    "Analysis",
    "Dynamics",
    "JacobianNorms",
    "SeriesResult",
    "Steps",
    "analyse",
    "gradients_through_time",
    "jacobian_norms",
    "power_iteration",
    "read_dynamics",
    "recurrent_spectrum",
]
