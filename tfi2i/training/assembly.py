"""From a config to a trainer: every piece of a run built once, in layer order, and handed on.

    1. runtime    thread pools, the tf.distribute strategy
    2. data       the dataset (synthetic when asked for), its files checked, the epoch length
    3. run        the run directory's lock; then the seed, the kernels, the dtype policy
    4. model      networks, losses and optimizers, in the strategy's scope
    5. run        the checkpoint, restored when the run directory holds one
    6. metrics    the metric pass during training, checked before anything is trained
"""

import dataclasses
import os
import tempfile

import keras
import tensorflow as tf

from tfi2i import kernels
from tfi2i.data import folders, pipeline, synthetic
from tfi2i.errors import Tfi2iError
from tfi2i.evaluation import image_sets, scoring as scoring_lib
from tfi2i.config.schema import CROPPING_MODES
from tfi2i.models import factory
from tfi2i.nets import introspection
from tfi2i.run import checkpoints, directory as run_directory, lock as run_lock
from tfi2i.runtime import mixed_precision, strategies, thread_pools
from tfi2i.training.trainer import Trainer


@dataclasses.dataclass(frozen=True)
class TrainingData:
    root: str
    files: object  # PairedFiles of the training split
    val_files: object  # of the val split, or None
    steps_per_epoch: int


def assemble(config, run_dir, log=print):
    """The Trainer of `config` in `run_dir`, with everything it needs, resumed where the run
    directory holds a run; `log(line)` is told what was chosen."""
    train = config.train
    # First: thread pools and a multi-worker strategy must be set before TensorFlow runs anything.
    thread_pools.configure(train.intra_op_threads, train.inter_op_threads, log)
    check_jit_compile(config)
    strategy = strategies.build_strategy(config.distribute, train.devices)
    # The data is checked before anything is logged or locked: bad input gives one line.
    data = training_data(config, run_dir, log)
    is_chief = strategies.is_chief(strategy)
    if is_chief:  # the one writer of the run; until fit() ends (tfi2i.run.lock)
        run_lock.acquire(run_dir)
    run_directory.check_continuable(run_dir, config)
    keras.utils.set_random_seed(train.seed)
    config = _resolve_kernels(config, log)
    policy = mixed_precision.policy_name(train.mixed_precision)
    if train.mixed_precision:
        log(f"mixed precision: {policy}")
    if train.jit_compile and not tf.config.list_logical_devices("GPU"):
        # XLA's CPU convolutions lack oneDNN's kernels (tools/bench.py: CycleGAN-128 16 s a
        # step against 1.35 s without it).
        log("note: train.jit_compile on a CPU runs these networks several times slower; set it false")

    model, plateau = compiled_model(config, strategy, policy, data.steps_per_epoch)

    # A non-chief worker restores the run's checkpoints but saves its copies aside.
    aside = None if is_chief else tempfile.mkdtemp(prefix="tfi2i-worker-checkpoints-")
    keep_every_steps = train.keep_every_epochs * data.steps_per_epoch if train.keep_every_epochs else None
    checkpoint = checkpoints.RunCheckpoint(checkpoints.directory(run_dir), model, train.keep_checkpoints,
                                           save_directory=aside, keep_every_steps=keep_every_steps)
    metric_pass = metric_pass_inputs(config, data.root, model.directions) if train.eval_every_epochs else None
    if plateau is not None:
        check_monitor(config, model, metric_pass)
    restored = checkpoint.restore_latest(warn=log)
    if restored:
        step = model.trained_steps
        log(f"resuming from {restored} (step {step}, epoch {step // data.steps_per_epoch + 1})")
    if is_chief:
        run_directory.write_config(run_dir, config)
    return Trainer(config, run_dir, strategy, data, model, checkpoint, metric_pass, policy, aside, log, plateau)


def check_jit_compile(config):
    """Refuses XLA under multi_worker without GPUs (TensorFlow 2.21: "Collectives are not yet
    implemented for CPU devices when compiling with XLA"). It lists the physical devices only,
    which leaves TensorFlow's runtime unstarted for the strategy."""
    if config.train.jit_compile and config.distribute == "multi_worker" and not tf.config.list_physical_devices("GPU"):
        raise Tfi2iError("train.jit_compile under distribute: multi_worker needs GPU workers (XLA has no all-reduce "
                         "between CPU workers); set train.jit_compile=false")


def _resolve_kernels(config, log):
    """`config` with train.kernels as `auto` chose it on this machine (what config.yaml records)."""
    chosen = kernels.resolve(config.train.kernels)
    log(f"kernels: {chosen}" + (" (auto)" if config.train.kernels == "auto" else ""))
    return dataclasses.replace(config, train=dataclasses.replace(config.train, kernels=chosen))


def _dataset_root(config, run_dir):
    data = config.data
    root = data.root or os.path.join(run_dir, "data")
    if data.synthetic.enabled and not os.path.isdir(root):
        kind = "unpaired" if data.layout == "unaligned" else "paired"
        synthetic.write(kind, root, count=data.synthetic.count, size=data.synthetic.size, seed=data.synthetic.seed)
    return root


def _find_files(data, root, split):
    if data.layout == "unaligned":
        return folders.find_unpaired(root, split, data.max_dataset_size)
    return folders.find_paired(root, data.layout, split, data.max_dataset_size)


def training_data(config, run_dir, log=print):
    """The run's dataset, its training images checked to decode and to batch; files left out
    are `log`ged once."""
    data, train = config.data, config.train
    root = _dataset_root(config, run_dir)
    files = _find_files(data, root, data.train_split)
    for note in files.notes:
        log(note)
    folders.verify_images(files.all_paths, aligned=getattr(files, "aligned", False))
    folders.check_batchable(files.all_paths, data.preprocess, train.batch_size)
    val_files = _find_files(data, root, data.val_split) if folders.has_split(root, data.layout, data.val_split) else None
    return TrainingData(root, files, val_files, pipeline.steps_per_epoch(files, train.batch_size, train.steps_per_epoch))


def compiled_model(config, strategy, policy, steps_per_epoch):
    """The config's model with both players' optimizers, built in the strategy's scope, and
    the learning-rate plateau they share (None unless train.lr_policy is plateau)."""
    with strategy.scope():
        with mixed_precision.dtype_policy(policy):
            model = factory.build_model(config)
        if model.needs_pairs and config.data.layout == "unaligned":
            raise Tfi2iError(
                f"model '{config.model.name}' learns from paired examples, but data.layout is 'unaligned'; "
                f"use an aligned or paired_folders dataset, or an unpaired model such as cyclegan"
            )
        check_crop_size(config, model)
        plateau = factory.learning_rate_plateau(config)
        # D updates n_critic times a step, so its epochs are n_critic times as many updates.
        optimizers = [
            mixed_precision.wrap_optimizer(factory.build_optimizer(config, steps_per_epoch * updates, plateau), policy)
            for updates in (1, config.model.n_critic)
        ]
        model.compile(*optimizers, jit_compile=config.train.jit_compile)
        model.build_optimizers()
    return model, plateau


def check_monitor(config, model, metric_pass):
    """Refuses a train.plateau.monitor that training never logs, naming those it does."""
    train = config.train
    logged = list(model.metric_names())
    if train.val_steps:
        logged += [f"val_{name}" for name in model.metric_names()]
    if metric_pass:
        logged += [f"eval/{name}" for name in metric_pass[1].metrics]
    if train.plateau.monitor not in logged:
        raise Tfi2iError(
            f"config key 'train.plateau.monitor' is '{train.plateau.monitor}', which training does not log; "
            f"set it to one of {', '.join(logged)}"
        )


def check_crop_size(config, model):
    """Refuses a data.crop_size the generators cannot take, naming the sizes that work."""
    data = config.data
    if data.preprocess not in CROPPING_MODES:
        return
    for direction in model.directions:
        network = model.translator(direction)
        multiple = introspection.required_multiple(network)
        fits = data.crop_size % multiple == 0
        if fits and data.crop_size < 4 * multiple:  # small sizes may be too small inside (padding)
            fits = data.crop_size >= introspection.smallest_input(network, multiple, network.input_shape[-1])
        if not fits:
            lower = max(multiple, data.crop_size // multiple * multiple)
            raise Tfi2iError(
                f"config key 'data.crop_size' is {data.crop_size}, which generator '{config.model.generator.name}' "
                f"cannot take: it takes multiples of {multiple}; set data.crop_size to {lower} or {lower + multiple}"
            )


def metric_pass_inputs(config, root, directions):
    """(images, scoring) of the metric pass during training: the first train.eval_images of the
    val split, else the test split."""
    data, train = config.data, config.train
    split = next((s for s in (data.val_split, "test") if folders.has_split(root, data.layout, s)), None)
    if split is None:
        raise Tfi2iError(
            f"train.eval_every_epochs needs held-out images, but '{root}' has no '{data.val_split}' or 'test' "
            "split; add one or set train.eval_every_epochs=0"
        )
    images = image_sets.from_split(root, split, reverse=data.direction == "b2a").head(train.eval_images)
    settings = scoring_lib.Scoring(train.eval_metrics, kid_subset_size=train.eval_images, kid_subsets=10,
                                   batch_size=train.batch_size)
    # The feature metrics are defaults only where the config names the Inception weights.
    scoring = scoring_lib.plan(settings, images, "b2a" in directions, split,
                               with_features=bool(train.eval_feature_weights), extractor_name=train.eval_features,
                               weights=train.eval_feature_weights)
    return images, scoring
