import fcntl
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfi2i import config as config_lib  # noqa: E402
from tfi2i.models import factory  # noqa: E402
from tfi2i.data import synthetic  # noqa: E402
from tfi2i.run import directory as run_directory, lock as run_lock  # noqa: E402
from tfi2i.runtime import thread_pools  # noqa: E402
from tfi2i.training.assembly import assemble  # noqa: E402

# TensorFlow starts here with the pool sizes a tfi2i run gets on this machine (on 2 cores: one
# thread an op, two ops at once), under which the seeded learning tests were measured; the
# trainers in this process keep them. TensorFlow's own sizes (a thread a core for each pool)
# in each of the suite's two processes put 8 busy threads on 2 cores: the CUT and UNIT learning
# tests, run side by side, took 158 s and 52 s under them against 74 s and 35 s under these.
thread_pools.configure(None, None, log=print)
tf.zeros([1]).numpy()

# The suite's slowest files, slowest first (seconds summed over a file's tests in one run of the
# suite: test_cut 155, test_strategies 128, test_export 99, test_multi_worker 85,
# test_mixed_precision 71, test_unit 63, test_cyclegan 61, test_cli 49, test_evaluate 44). The
# Makefile's `--no-loadscope-reorder` keeps this order, so the two processes start on these and
# finish on short files together; xdist's own order (files with the most tests first) left
# these few-test files for the end, one process running them while the other had nothing left.
SLOWEST_FIRST = ["test_cut.py", "test_strategies.py", "test_export.py", "test_multi_worker.py",
                 "test_mixed_precision.py", "test_unit.py", "test_cyclegan.py", "test_cli.py", "test_evaluate.py"]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's own order stays


# Tiny networks on 32x32 images: enough to exercise every code path in seconds.
TINY = [
    "model.generator.params={ngf: 8, norm: batch, dropout: true}",
    "model.discriminator.params={ndf: 8, n_layers: 2, norm: batch}",
    "data.load_size=36",
    "data.crop_size=32",
    "train.batch_size=2",
    "train.n_epochs=1",
    "train.n_epochs_decay=1",
    "train.num_samples=2",
    "train.report=false",  # the report has tests of its own
]


@pytest.fixture(scope="session")
def paired_root(tmp_path_factory):
    return synthetic.write_paired(str(tmp_path_factory.mktemp("paired")), count=16, size=32, seed=0)


# A tiny CycleGAN (reference layout: ResNet generators, LSGAN, cycle 10 + identity 5) with a
# pool small enough to fill and start swapping within a few steps.
TINY_CYCLEGAN = [
    "model.name=cyclegan",
    "model.params={pool_size: 3}",
    "model.generator.name=resnet",
    "model.generator.params={ngf: 8, n_blocks: 2}",
    "model.discriminator.params={ndf: 8, n_layers: 2}",
    "model.gan_loss.name=lsgan",
    "data.layout=unaligned",
    "losses=[{name: cycle_l1, weight: 10}, {name: identity_l1, weight: 5}]",
]


@pytest.fixture(scope="session")
def unpaired_root(tmp_path_factory):
    return synthetic.write_unpaired(str(tmp_path_factory.mktemp("unpaired")), count=16, size=32, seed=0)


@pytest.fixture
def tiny_cyclegan_config(unpaired_root):
    """Builds a tiny CycleGAN config on the synthetic unpaired set, with extra overrides."""

    def make(*overrides):
        return config_lib.load(None, [f"data.root={unpaired_root}", *TINY, *TINY_CYCLEGAN, *overrides])

    return make


# A tiny UNIT (the paper's objective: GAN 10, KL 0.1, VAE L1 100, cycle KL 0.1, cycle L1 100).
TINY_UNIT = [
    "model.name=unit",
    "model.generator.name=unit",
    "model.generator.params={ngf: 8, n_blocks: 2, n_shared_blocks: 1}",
    "model.discriminator.name=unit",
    "model.discriminator.params={ndf: 8, n_layers: 3}",
    "model.gan_loss={name: vanilla, weight: 10}",
    "model.discriminator_loss_weight=1.0",
    "data.layout=unaligned",
    "losses=[{name: vae_kl, weight: 0.1}, {name: vae_l1, weight: 100}, "
    "{name: cycle_kl, weight: 0.1}, {name: cycle_l1, weight: 100}]",
]


@pytest.fixture
def tiny_unit_config(unpaired_root):
    """Builds a tiny UNIT config on the synthetic unpaired set, with extra overrides."""

    def make(*overrides):
        return config_lib.load(None, [f"data.root={unpaired_root}", *TINY, *TINY_UNIT, *overrides])

    return make


# A tiny CUT (the paper's objective: LSGAN, PatchNCE weight 1 with its identity term) tapping
# every stage of its ResNet generator, with few patches.
# With the paper code's anti-aliased sampling in both networks, as the horse2zebra configs.
TINY_CUT = [
    "model.name=cut",
    "model.generator.name=resnet",
    "model.generator.params={ngf: 8, n_blocks: 2, norm: instance, downsampling: antialias, upsampling: antialias}",
    "model.discriminator.params={ndf: 8, n_layers: 2, norm: instance, downsampling: antialias}",
    "model.gan_loss.name=lsgan",
    "data.layout=unaligned",
    "losses=[{name: patch_nce, weight: 1, params: {num_patches: 16, units: 16, "
    "layers: [stem_pad, down1_conv, down2_conv, res1_add, res2_add]}}]",
]


@pytest.fixture
def tiny_cut_config(unpaired_root):
    """Builds a tiny CUT config on the synthetic unpaired set, with extra overrides."""

    def make(*overrides):
        return config_lib.load(None, [f"data.root={unpaired_root}", *TINY, *TINY_CUT, *overrides])

    return make


@pytest.fixture
def tiny_config(paired_root):
    """Builds a tiny pix2pix config on the synthetic paired set, with extra overrides."""

    def make(*overrides):
        return config_lib.load(None, [f"data.root={paired_root}", *TINY, *overrides])

    return make


def built_model(config):
    """The config's model, compiled with both optimizers built (8 steps an epoch)."""
    model = factory.build_model(config)
    model.compile(factory.build_optimizer(config, 8), factory.build_optimizer(config, 8))
    model.build_optimizers()
    return model


def assert_unchanged(model, action):
    """Runs `action` and checks that it changed no variable of `model`."""
    before = [v.numpy().copy() for v in model.variables]
    action()
    for v, b in zip(model.variables, before, strict=True):
        np.testing.assert_array_equal(v.numpy(), b, err_msg=v.path)


# One trained (2 steps) run of every model, for the export and translate tests.
TRAINED_RUNS = {
    # U-Net depth 5 at crop 32: inputs padded to multiples of 32.
    "pix2pix": ("paired_root", []),
    "cyclegan": ("unpaired_root", TINY_CYCLEGAN),
    # 3-channel A, 1-channel B: the b2a direction reads grayscale images.
    "unit": ("unpaired_root", [*TINY_UNIT, "data.output_nc=1"]),
    "cut": ("unpaired_root", TINY_CUT),
}


def train_runs(request, folder):
    """{model name: (run directory, trained model)} of every model in TRAINED_RUNS, trained in `folder`."""
    made = {}
    for name, (root_fixture, overrides) in TRAINED_RUNS.items():
        root = request.getfixturevalue(root_fixture)
        short = ["train.steps_per_epoch=2", "train.n_epochs=1", "train.n_epochs_decay=0"]
        config = config_lib.load(None, [f"data.root={root}", *TINY, *overrides, *short])
        trainer = assemble(config, str(folder / name), log=lambda _: None)
        trainer.fit()
        made[name] = (str(folder / name), trainer.model)
    return made


def resumed_runs(folder):
    """{model name: (run directory, model)} of TRAINED_RUNS' runs in `folder`, each model resumed
    from its run's checkpoint (the trained weights and optimizer slots) as a run is resumed."""
    made = {}
    for name in TRAINED_RUNS:
        run_dir = str(folder / name)
        trainer = assemble(run_directory.saved_config(run_dir), run_dir, log=lambda _: None)
        run_lock.release(run_dir)  # held by assemble until a fit; nothing trains these
        made[name] = (run_dir, trainer.model)
    return made


@pytest.fixture(scope="session")
def runs(request, tmp_path_factory):
    """{model name: (run directory, trained model)} of every model in TRAINED_RUNS.

    Trained once a suite: training them (mostly tracing each model's step) took 50-100 s, once
    in each of the suite's two processes. Under xdist the first process to ask trains them and
    keeps its runs and trainers' models; before any of its tests writes beside the runs, it
    copies them to where the other process finds them, which resumes each model from its
    checkpoint there (the trained weights and optimizer slots) and traces nothing."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return train_runs(request, tmp_path_factory.mktemp("runs"))
    shared = tmp_path_factory.getbasetemp().parent  # this suite's, one folder per process below it
    with open(shared / "trained_runs.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # until the file closes: the other process waits
        if not (shared / "trained_runs").exists():
            folder = tmp_path_factory.mktemp("runs")
            made = train_runs(request, folder)
            shutil.copytree(folder, shared / "trained_runs")
            return made
    return resumed_runs(shared / "trained_runs")


class EpochLogs(keras.callbacks.Callback):
    """Keeps every epoch's logs, for comparing training runs."""

    def __init__(self):
        super().__init__()
        self.logs = []

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(dict(logs))
