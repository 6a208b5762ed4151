"""The one exception type that reaches users as a single line (exit code 2)."""

import difflib


class Tfi2iError(Exception):
    """A user-facing error: the message names the culprit and the fix."""


def did_you_mean(word, choices):
    """Returns " (did you mean 'x'?)" for the closest choice, or ""."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
