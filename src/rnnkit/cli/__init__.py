"""The ``rnnkit`` command line (see :mod:`rnnkit.cli.main`)."""
