"""Running a batch function over images of mixed sizes: images of one size go together."""

import numpy as np


def apply_by_size(function, images, batch_size, on_done=None):
    """[function(batch)[i] for each image], where `function` maps a stacked batch [n, H, W, C]
    to n results and is called on up to `batch_size` images of one size at a time."""
    on_done = on_done or (lambda n: None)
    results = [None] * len(images)
    by_size = {}
    for index, image in enumerate(images):
        by_size.setdefault(np.shape(image), []).append(index)
    for indices in by_size.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            for index, result in zip(chunk, function(np.stack([images[i] for i in chunk])), strict=True):
                results[index] = result
            on_done(len(chunk))
    return results
