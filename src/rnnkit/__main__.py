"""``python -m rnnkit``: the same command as ``rnnkit``."""

from rnnkit.cli.main import main

main()
