"""The sizes of TensorFlow's thread pools: train.intra_op_threads and train.inter_op_threads."""

import tensorflow as tf


def configure(intra_op, inter_op, log):
    """Sizes the pool each op splits its work over (intra) and the pool that runs independent
    ops at once (inter); 0 leaves TensorFlow's choice (one thread per core for each).

    TensorFlow fixes both when it first runs anything. Where it runs already (a second trainer
    in one process), the sizes stay as they are and a note says so where they differ."""
    threading = tf.config.threading
    wanted = {"intra_op": (intra_op, threading.get_intra_op_parallelism_threads,
                           threading.set_intra_op_parallelism_threads),
              "inter_op": (inter_op, threading.get_inter_op_parallelism_threads,
                           threading.set_inter_op_parallelism_threads)}
    for key, (threads, get, set_) in wanted.items():
        if not threads or threads == get():
            continue
        try:
            set_(threads)
        except RuntimeError:  # TensorFlow runs already
            log(f"note: train.{key}_threads={threads} is ignored: this process started TensorFlow with "
                f"{get() or 'its default'}; it applies to a new process")
