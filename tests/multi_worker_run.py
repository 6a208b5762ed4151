"""Run as a script: one worker of a local multi-worker cluster (TF_CONFIG must be set first).

    python tests/multi_worker_run.py DATA_ROOT RUN_DIR WEIGHTS.npz [CONFIG OVERRIDES...]

Trains with distribute: multi_worker and writes the final weights to WEIGHTS.npz.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tfi2i import config as config_lib  # noqa: E402
from tfi2i.training.assembly import assemble  # noqa: E402


def main():
    root, run_dir, weights_path, *overrides = sys.argv[1:]
    config = config_lib.load(None, [f"data.root={root}", *overrides, "distribute=multi_worker"])
    trainer = assemble(config, run_dir, log=lambda line: print(line, flush=True))
    result = trainer.fit()
    print(f"chief={trainer.is_chief} step={result.step} replicas={trainer.strategy.num_replicas_in_sync}", flush=True)
    np.savez(weights_path, **{f"{i}:{v.path}": v.numpy() for i, v in enumerate(trainer.model.variables)})


if __name__ == "__main__":
    main()
