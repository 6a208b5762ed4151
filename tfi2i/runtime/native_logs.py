"""Keeps TensorFlow's C++ log lines off the command line's stderr.

TensorFlow's native code logs through Abseil before anything initializes Abseil's logging, so
TF_CPP_MIN_LOG_LEVEL does not reach those lines: every process prints "All log messages before
absl::InitializeLog() ...", "oneDNN custom operations are on", "failed call to cuInit" (on a
machine without a GPU) and grappler's "remapper failed" while nothing is wrong. They read as
failures and break the promise that a user error is one line. No setting of TensorFlow or
Abseil turns them off, so the `tfi2i` command routes file descriptor 2 through a pipe and drops
lines in Abseil's format ("I0000 00:00:1700000000.000000    1234 file.cc:12] ...", the seconds counted from the epoch) on the way
to the terminal; everything else, Python's own stderr included, passes through unchanged.
TFI2I_NATIVE_LOGS=1 keeps them. Library users' processes are never touched.
"""

import atexit
import os
import re
import threading

KEEP_VARIABLE = "TFI2I_NATIVE_LOGS"
# Abseil's prefix: severity, MMDD, time, thread id, file:line]; and the line it logs first.
NATIVE_LINE = re.compile(rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\s\]]+:\d+\] |"
                         rb"WARNING: All log messages before absl::InitializeLog\(\))")


def is_native_log(line):
    return bool(NATIVE_LINE.match(line))


def _pump(source, target):
    """Copies `source` to `target` line by line, leaving native log lines out."""
    pending = b""
    while True:
        chunk = os.read(source, 65536)
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        kept = [line + b"\n" for line in lines if not is_native_log(line)]
        # A partial line goes on at once (a progress bar redraws with \r), unless it may be
        # the start of a native line.
        if pending and not is_native_log(pending) and not pending[:1] in (b"I", b"W", b"E", b"F"):
            kept.append(pending)
            pending = b""
        if kept:
            os.write(target, b"".join(kept))
    if pending and not is_native_log(pending):
        os.write(target, pending)


def filter_stderr():
    """From now on, native log lines written to this process's stderr are dropped (unless
    TFI2I_NATIVE_LOGS=1)."""
    if os.environ.get(KEEP_VARIABLE) == "1":
        return
    terminal = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    pump = threading.Thread(target=_pump, args=(read_end, terminal), name="tfi2i-stderr", daemon=True)
    pump.start()

    def finish():
        # Handing fd 2 back closes the pipe's last write end, so the pump drains and ends.
        import sys

        sys.stderr.flush()
        os.dup2(terminal, 2)
        pump.join(timeout=2.0)

    atexit.register(finish)
