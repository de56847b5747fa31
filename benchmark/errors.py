"""One exception type for bad input: the CLI prints its message on one line and exits 2."""


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix, on one line."""
