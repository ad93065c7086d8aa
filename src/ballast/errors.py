"""Errors that mean "the user's input is wrong": the CLI prints them without a traceback."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input (a file, a field, a price): the message says where and what was expected."""
