"""Bad input from the user, as the engine and the command line report it.

Library layers below ``benchmark`` (models, losses, metrics, sweeps, reports) raise ordinary
``ValueError``s with one-line messages; :class:`UserError` is a ``ValueError`` too, so the
command line turns both into one line on stderr and exit status 2 (``benchmark.cli``).
"""


class UserError(ValueError):
    """Bad input from the user: the message names the problem and the fix, on one line."""
