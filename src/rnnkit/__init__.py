"""rnnkit: recurrent neural networks from their equations to trained, saved, evaluated models.

Subpackages:
    rnnkit.nn         cells and layers in PyTorch (fused torch kernels when the options allow)
    rnnkit.reference  the NumPy mirror of rnnkit.nn, with hand-written backpropagation through time
    rnnkit.data       sequence utilities, tokenisers, vocabularies and data-set loaders
    rnnkit.train      the one training engine, checkpoints, metrics and plots
    rnnkit.tasks      one module per task family
    rnnkit.cli        the `rnnkit` command
"""

__version__ = "0.1.0"
