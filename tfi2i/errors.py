"""The one exception type that reaches users as a single line (exit code 2)."""

import difflib


class Tfi2iError(Exception):
    """A user-facing error: the message names the culprit and the fix."""


def user_error(error):
    """The one-line Tfi2iError `error` is or wraps, else None. TensorFlow re-raises an error
    from traced code (a loss plugin's, in the first step) as a new exception whose message
    adds the trace over several lines; the original, one line, stays in the chain."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, Tfi2iError) and "\n" not in str(error):
            return error
        error = error.__cause__ or error.__context__
    return None


def did_you_mean(word, choices):
    """Returns " (did you mean 'x'?)" for the closest choice, or ""."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
