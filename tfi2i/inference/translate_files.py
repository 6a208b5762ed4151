"""`tfi2i translate`: image files in, translated PNGs out.

Inputs are files or folders; a folder's sub-folders are mirrored under the output folder and
every output keeps its input's name with a .png suffix. Images of one size are translated in
batches. A file that cannot be read is skipped with a warning; the others are still written.
"""

import collections
import concurrent.futures
import dataclasses
import os

import numpy as np

from tfi2i import pixels
from tfi2i.data import folders, images
from tfi2i.errors import Tfi2iError
from tfi2i.inference import serving

_DECODE_THREADS = 4


@dataclasses.dataclass(frozen=True)
class Job:
    source: str
    target: str


@dataclasses.dataclass
class Outcome:
    written: int = 0
    skipped: list = dataclasses.field(default_factory=list)  # (path, reason)


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder + os.sep)


def plan(inputs, out_dir):
    """The (source, target) of every input image, in a stable order.

    Files are taken as given; folders contribute every image below them, their sub-folders
    mirrored under `out_dir`.
    """
    jobs = []
    for given in inputs:
        if os.path.isdir(given):
            if _inside(out_dir, given):
                raise Tfi2iError(
                    f"--out '{out_dir}' lies inside the input folder '{given}'; "
                    "write the translations to a folder outside it"
                )
            paths = folders.list_images(given)
            if not paths:
                raise Tfi2iError(f"input folder '{given}' holds no images ({', '.join(folders.IMAGE_EXTENSIONS)})")
            jobs += [Job(p, os.path.join(out_dir, os.path.relpath(p, given))) for p in paths]
        elif os.path.isfile(given):
            jobs.append(Job(given, os.path.join(out_dir, os.path.basename(given))))
        else:
            raise Tfi2iError(f"input '{given}' does not exist; give image files or folders")
    jobs = [Job(job.source, os.path.splitext(job.target)[0] + ".png") for job in jobs]
    first_source = {}
    for job in jobs:
        other = first_source.setdefault(job.target, job.source)
        if other != job.source:
            raise Tfi2iError(
                f"'{other}' and '{job.source}' would both be written to '{job.target}'; "
                "rename one of them or translate them in separate runs"
            )
    return list({job.source: job for job in jobs}.values())  # a file given twice is translated once


def _read(job, channels, max_pixels):
    """(job, uint8-range float pixels or None, why not)."""
    return (job, *images.try_read(job.source, channels, max_pixels, limit_name="--max-pixels"))


def _read_ahead(jobs, read, ahead):
    """read(job) for every job, in order, a bounded number of them in flight on threads."""
    with concurrent.futures.ThreadPoolExecutor(_DECODE_THREADS) as pool:
        pending = collections.deque()
        for job in jobs:
            pending.append(pool.submit(read, job))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def translate(translator, jobs, batch_size=8, max_pixels=images.DEFAULT_MAX_PIXELS, on_done=None, warn=print):
    """Translates every job's image and writes it as PNG; returns an Outcome.

    Images are grouped by size into batches of up to `batch_size`. `on_done(n)` is called as n
    more inputs are finished (for a progress bar); `warn(line)` for each skipped input.
    """
    on_done = on_done or (lambda n: None)
    outcome = Outcome()
    waiting = collections.defaultdict(list)  # (height, width) -> [(job, levels)]

    def flush(size):
        batch = waiting.pop(size)
        sources = pixels.to_unit_range(np.stack([levels for _, levels in batch]))
        encoded = serving.encode_png(translator(sources)).numpy()
        for (job, _), png in zip(batch, encoded):
            os.makedirs(os.path.dirname(job.target) or ".", exist_ok=True)
            with open(job.target, "wb") as f:
                f.write(png)
        outcome.written += len(batch)
        on_done(len(batch))

    read = lambda job: _read(job, translator.input_channels, max_pixels)  # noqa: E731
    for job, levels, reason in _read_ahead(jobs, read, ahead=2 * batch_size):
        if levels is None:
            outcome.skipped.append((job.source, reason))
            warn(f"warning: skipped '{job.source}': {reason}")
            on_done(1)
            continue
        size = levels.shape[:2]
        waiting[size].append((job, levels))
        if len(waiting[size]) == batch_size:
            flush(size)
        elif sum(map(len, waiting.values())) > 4 * batch_size:
            # Many sizes seen, few of each: bound the memory held by partial batches.
            flush(max(waiting, key=lambda s: len(waiting[s])))
    for size in list(waiting):
        flush(size)
    return outcome
