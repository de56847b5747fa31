"""Bad input from the user, as the engine and the command line report it.

Library layers below ``benchmark`` (models, losses, metrics, sweeps, reports) raise ordinary
``ValueError``s with one-line messages; :class:`UserError` is a ``ValueError`` too, so the
command line turns both into one line on stderr and exit status 2 (``benchmark.cli.main``).
"""

import argparse
import contextlib
from collections.abc import Iterator


class UserError(ValueError):
    """Bad input from the user: the message names the problem and the fix, on one line."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are :class:`UserError`s: one line naming the
    problem and where the help is, instead of argparse's usage dump."""

    def error(self, message: str):  # type: ignore[override]
        raise UserError(f"{message}; see `{self.prog} --help`")


@contextlib.contextmanager
def user_input() -> Iterator[None]:
    """Library layers (losses, sweeps, metrics) report bad input as a one-line ``ValueError``;
    while a command's input is checked, that is the user's mistake: a :class:`UserError`."""
    try:
        yield
    except UserError:
        raise
    except ValueError as err:
        raise UserError(str(err)) from None


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number >= 1 (a count of steps, rounds, batches...)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def positive_ints(text: str) -> list[int]:
    """An ``argparse`` type: comma-separated whole numbers >= 1, at least one, each once."""
    try:
        values = [positive_int(v) for v in text.split(",") if v.strip()]
    except argparse.ArgumentTypeError:
        values = []
    if not values or len(set(values)) < len(values):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of distinct "
                                         "whole numbers >= 1 (e.g. 100,1000)")
    return values
