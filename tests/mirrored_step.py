"""Run as a script (the CPU must be split before TensorFlow starts): for each case, one training
step of a model on 2 logical CPU devices under MirroredStrategy against the same step on one
device. The cases share one process, so TensorFlow starts once for all of them.

    python tests/mirrored_step.py CASES.json

CASES.json: a list of [MODEL, DATA_ROOT, RUN_DIR or "-", [CONFIG OVERRIDES...]]. With a RUN_DIR,
the case also trains 2 steps with the Trainer on 2 replicas there and resumes. Prints one line a
case, "MODEL: ok: ..." when the weights agree and "MODEL: failed: ..." with what differs.
"""

import json
import os
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfi2i import config as config_lib  # noqa: E402
from tfi2i.models import factory  # noqa: E402
from tfi2i.runtime import strategies  # noqa: E402
from tfi2i.training.assembly import assemble  # noqa: E402

DEVICES = ["/cpu:0", "/cpu:1"]


def built(config, strategy):
    """The model with seeded initial weights; plain SGD, whose step is proportional to the
    gradient (Adam's first step is not), so a wrongly scaled gradient shows."""
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = factory.build_model(config)
        model.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
        model.build_optimizers()
    return model


def check_case(name, root, run_dir, overrides):
    """The case's "ok: ..." line; raises AssertionError naming what differs."""
    config = config_lib.load(None, [f"data.root={root}", *overrides])
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (2, 32, 32, config.data.input_nc)).astype("float32")
    b = rng.uniform(-1, 1, (2, 32, 32, config.data.output_nc)).astype("float32")
    batches = tf.data.Dataset.from_tensors((a, b)).repeat()

    mirrored_strategy = strategies.build_strategy("mirrored", DEVICES)
    assert mirrored_strategy.num_replicas_in_sync == 2
    single, mirrored = built(config, tf.distribute.get_strategy()), built(config, mirrored_strategy)
    before = [v.numpy().copy() for v in single.variables]
    for model in (single, mirrored):
        model.fit(batches, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)

    failures, moved = [], 0
    for old, s, m in zip(before, single.variables, mirrored.variables, strict=True):
        if "pool" in s.path:
            continue  # per replica by design; checked below
        step = np.abs(s.numpy() - old).max() if old.size else 0.0
        moved += step > 1e-3  # well above the tolerance: a gradient scaled wrongly would show
        # Float tolerance: 1e-3 of the step, and 1e-5 for variables whose gradient is float
        # noise anyway (a conv bias ahead of instance norm).
        if not np.allclose(m.numpy(), s.numpy(), rtol=1e-4, atol=1e-5 + 1e-3 * step):
            failures.append(f"{s.path}: max diff {np.abs(m.numpy() - s.numpy()).max():.3g}, step {step:.3g}")
    assert moved > 10, f"only {moved} variables moved by more than 1e-3: the check would be weak"
    if name == "cyclegan":
        # Each replica's pool holds its own one translation; the single-device pool both.
        pool = mirrored.pool_b
        counts = [int(c.numpy()) for c in mirrored_strategy.experimental_local_results(pool.count.value)]
        assert counts == [1, 1] and int(single.pool_b.count.numpy()) == 2, counts
        local_images = [i.numpy()[0] for i in mirrored_strategy.experimental_local_results(pool.images.value)]
        np.testing.assert_allclose(local_images, single.pool_b.images.numpy()[:2], atol=1e-4)

    assert not failures, "; ".join(failures)
    if run_dir != "-":
        train_on_two_replicas(root, run_dir, overrides)
    return f"ok: {moved} variables moved by more than 1e-3, alike on 1 and 2 replicas"


def train_on_two_replicas(root, run_dir, overrides):
    """The trainer end to end on 2 replicas (its FusedAdam optimizers): trains, saves one
    checkpoint per save, resumes."""
    trainer_config = config_lib.load(None, [f"data.root={root}", *overrides, "distribute=mirrored",
                                            f"train.devices=[{', '.join(DEVICES)}]", "train.steps_per_epoch=2",
                                            "train.n_epochs=1", "train.n_epochs_decay=0"])
    trainer = assemble(trainer_config, run_dir, log=lambda _: None)
    assert trainer.strategy.num_replicas_in_sync == 2
    result = trainer.fit()
    assert result.step == 2, result
    # FusedAdam updated each replica's copy through its own handle: the copies agree.
    assert trainer.model.generator_optimizer.iterations.numpy() == 2
    for variable in trainer.model.trainable_variables:
        first, second = trainer.strategy.experimental_local_results(variable.value)
        np.testing.assert_array_equal(first.numpy(), second.numpy(), err_msg=variable.path)
    saved = sorted(n for n in os.listdir(os.path.join(run_dir, "checkpoints")) if n.endswith(".index"))
    assert saved == ["ckpt-2.index"], saved
    resumed = assemble(trainer_config, run_dir, log=lambda _: None)
    assert resumed.step == 2
    for s, m in zip(trainer.model.variables, resumed.model.variables, strict=True):
        if "pool" not in s.path:
            np.testing.assert_array_equal(s.numpy(), m.numpy(), err_msg=s.path)


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    for name, root, run_dir, overrides in cases:
        try:
            line = check_case(name, root, run_dir, overrides)
        except Exception:  # noqa: BLE001 - the next cases still run; the test shows this one's trace
            line = "failed: " + traceback.format_exc().replace("\n", " | ")
        print(f"{name}: {line}", flush=True)


if __name__ == "__main__":
    main()
