"""The NumPy (float64) mirror of :mod:`rnnkit.nn`, with hand-written backpropagation through time.

Modules:
    cells      one step of RNN (tanh/relu), LSTM (with projection) and GRU, each backward beside
               its forward; the cell classes ``RNNCell``, ``LSTMCell``, ``GRUCell``
    layers     ``RNN``, ``LSTM``, ``GRU``: stacked, bidirectional, with lengths, like torch.nn
    minimal    minGRU and minLSTM steps with their backward, and the layers ``MinGRU``, ``MinLSTM``
    conv_cells the 2-D ConvLSTM cell by im2col (``ConvLSTM2dCell``) and over time
               (``ConvLSTM2d``), backward beside forward
    clip       ``clip_grad_norm``, ``clip_grad_value``
    gradcheck  ``numerical_gradient``, ``check_gradients`` (finite differences)
    optim      ``SGD``, ``Adagrad``, ``Adam`` over dicts of arrays
    charlm     a character-level language model trained from scratch (``python -m`` runnable)

Parameters are dicts of float64 arrays under torch's names, so ``load_state_dict`` takes a
``torch.nn`` state dict as it is, and every ``backward`` returns gradients under the same names.
"""

from rnnkit.reference.cells import Cell, GRUCell, LSTMCell, RNNCell
from rnnkit.reference.clip import clip_grad_norm, clip_grad_value
from rnnkit.reference.conv_cells import ConvLSTM2d, ConvLSTM2dCell
from rnnkit.reference.gradcheck import check_gradients, gradient_errors, numerical_gradient
from rnnkit.reference.layers import GRU, LSTM, RNN, Recurrent
from rnnkit.reference.minimal import MinGRU, MinLSTM
from rnnkit.reference.optim import SGD, Adagrad, Adam

__all__ = [
    "GRU",
    "LSTM",
    "MinGRU",
    "MinLSTM",
    "RNN",
    "SGD",
    "Adagrad",
    "Adam",
    "Cell",
    "ConvLSTM2d",
    "ConvLSTM2dCell",
    "CharLM",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "Recurrent",
    "check_gradients",
    "clip_grad_norm",
    "clip_grad_value",
    "gradient_errors",
    "numerical_gradient",
    "unigram_entropy",
]


def __getattr__(name: str):
    # charlm is imported on first use, so that `python -m rnnkit.reference.charlm` runs it fresh
    if name in ("CharLM", "unigram_entropy"):
        from rnnkit.reference import charlm

        return getattr(charlm, name)
    raise AttributeError(f"module 'rnnkit.reference' has no attribute {name!r}")
