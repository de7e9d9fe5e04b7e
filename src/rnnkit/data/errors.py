"""The error every reader of ``rnnkit.data`` raises for bad input.

A :class:`DataError` says what is wrong with a file or array in one line that starts with where:
the file, the 1-based line and the column when there is one (``x.csv: line 7, column 'b': ...``).
The command line prints it without a traceback and exits with code 1.
"""


class DataError(ValueError):
    """Input data that cannot be used; the message names the file, line and column."""
