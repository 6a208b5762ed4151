"""The config schema: every section as a dataclass, every key with its type and default.

A config file names only what differs from these defaults; the resolved config in a run
directory lists them all.
"""

import dataclasses
import typing
from typing import Any, Literal, Optional

PREPROCESS_MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")
CROPPING_MODES = ("resize_and_crop", "crop", "scale_width_and_crop")
KERNEL_MODES = ("auto", "keras", "tuned")  # train.kernels: see tfi2i.kernels.selection


@dataclasses.dataclass
class PartConfig:
    """A registry entry (generator, discriminator) and the keyword arguments it is built with."""

    name: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class GanLossConfig:
    name: str = "vanilla"
    weight: float = 1.0
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class LossConfig:
    """One `tfi2i.losses` entry added to the generator objective."""

    name: str
    weight: float = 1.0
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Translation directions the loss applies to; None means every direction of the model.
    directions: Optional[list[Literal["a2b", "b2a"]]] = None


@dataclasses.dataclass
class InitConfig:
    """The reference's --init_type / --init_gain (tfi2i.nets.init)."""

    type: Literal["normal", "xavier", "kaiming", "orthogonal"] = "normal"
    gain: float = 0.02


@dataclasses.dataclass
class ModelConfig:
    name: str = "pix2pix"
    params: dict[str, Any] = dataclasses.field(default_factory=dict)  # e.g. cyclegan's pool_size
    # Params left out take the builder's own defaults (the reference's), so switching the
    # name never carries another network's settings along.
    generator: PartConfig = dataclasses.field(default_factory=lambda: PartConfig("unet"))
    discriminator: PartConfig = dataclasses.field(default_factory=lambda: PartConfig("patchgan"))
    gan_loss: GanLossConfig = dataclasses.field(default_factory=GanLossConfig)
    # The reference halves the discriminator objective to slow D relative to G.
    discriminator_loss_weight: float = 0.5
    # Discriminator updates per generator update, each on the step's batch (WGAN's n_critic: 5).
    n_critic: int = 1
    # null: each network's own initialization (the built-ins': N(0, 0.02), the reference's
    # default); set, every generator and discriminator is initialized again this way.
    init: Optional[InitConfig] = None


@dataclasses.dataclass
class SyntheticConfig:
    """The built-in synthetic dataset, generated into the run directory when enabled."""

    enabled: bool = False
    count: int = 64
    size: int = 64
    seed: int = 0


@dataclasses.dataclass
class DataConfig:
    root: Optional[str] = None
    layout: Literal["aligned", "paired_folders", "unaligned"] = "aligned"
    direction: Literal["a2b", "b2a"] = "a2b"
    train_split: str = "train"
    val_split: str = "val"
    input_nc: Literal[1, 3] = 3
    output_nc: Literal[1, 3] = 3
    preprocess: Literal[PREPROCESS_MODES] = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    serial_batches: bool = False  # take the files in order (the reference's --serial_batches)
    max_dataset_size: Optional[int] = None
    synthetic: SyntheticConfig = dataclasses.field(default_factory=SyntheticConfig)


@dataclasses.dataclass
class OptimizerConfig:
    lr: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    # As the reference (torch.optim.Adam): 1e-8 added to sqrt(v_hat), the Adam paper's form;
    # epsilon_form "keras" adds it to sqrt(v), as keras.optimizers.Adam (see kernels.adam).
    epsilon: float = 1e-8
    epsilon_form: Literal["paper", "keras"] = "paper"


@dataclasses.dataclass
class PlateauConfig:
    """train.lr_policy: plateau (the reference's --lr_policy plateau and its settings)."""

    # A logged value: a loss (g_total, d_total, g_l1, ...), val_<loss> with train.val_steps,
    # eval/<metric> with train.eval_every_epochs.
    monitor: str = "g_total"
    mode: Literal["min", "max"] = "min"
    factor: float = 0.2
    patience: int = 5  # epochs without improvement before the rates are lowered
    threshold: float = 0.01  # relative: better than best * (1 - threshold) ('min') counts
    min_lr: float = 0.0


@dataclasses.dataclass
class TrainConfig:
    batch_size: int = 1
    seed: int = 0
    # Epochs at the initial learning rate, then epochs of decay (reference: 100 + 100).
    n_epochs: int = 100
    n_epochs_decay: int = 100
    lr_policy: Literal["linear", "step", "cosine", "constant", "plateau"] = "linear"
    lr_decay_epochs: int = 50  # step policy: multiply by 0.1 every this many epochs
    plateau: PlateauConfig = dataclasses.field(default_factory=PlateauConfig)
    steps_per_epoch: Optional[int] = None  # default: every training example once per epoch
    save_every_epochs: int = 1
    save_every_steps: Optional[int] = None  # also a checkpoint every N steps (--save_latest_freq, in steps)
    keep_checkpoints: int = 3  # the newest N are kept ...
    keep_every_epochs: Optional[int] = None  # ... and, never deleted, those of every N-th epoch
    sample_every_epochs: int = 1
    num_samples: int = 4
    log_every_steps: int = 50
    val_steps: int = 0  # validation batches evaluated after each epoch; 0 turns it off
    jit_compile: bool = False
    mixed_precision: bool = False  # mixed_float16 on GPUs (loss-scaled), mixed_bfloat16 on CPUs
    # Layer classes and Adam: stock Keras, tfi2i's CPU-tuned twins, or auto (tuned without a
    # GPU, keras with one). A run's config.yaml records what auto chose.
    kernels: Literal[KERNEL_MODES] = "auto"
    # TensorFlow's thread pools: threads each op splits its work over, and ops run at once.
    # Unset: tfi2i's choice (without a GPU: half the cores per op, two ops at once);
    # 0: TensorFlow's (one thread per core for each).
    intra_op_threads: Optional[int] = None
    inter_op_threads: Optional[int] = None
    report: bool = True  # write RUN_DIR/report/index.html when training stops
    devices: Optional[list[str]] = None  # distribute: mirrored over these, e.g. [/gpu:0, /gpu:1]; default all GPUs
    # A metric pass on a fixed held-out subset every this many epochs (0: off); logged as eval/*.
    eval_every_epochs: int = 0
    eval_images: int = 16
    eval_metrics: Optional[list[str]] = None  # default: the paired metrics and cycle_l1 where they apply
    eval_feature_weights: Optional[str] = None  # the eval_features' weights: adds fid, kid, precision, recall
    eval_features: str = "inception_v3"  # the feature extractor (inception_2015: the published scores' network)


@dataclasses.dataclass
class InferenceConfig:
    """How generators run at test time (tfi2i.nets.test_time): in samples, the metric pass,
    translate, evaluate and export. eval: dropout off, moving statistics (the reference's
    --eval); train: dropout on, each image's own statistics (the reference's default test)."""

    mode: Literal["eval", "train"] = "eval"


@dataclasses.dataclass
class Config:
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    losses: list[LossConfig] = dataclasses.field(
        default_factory=lambda: [LossConfig("l1", weight=100.0)]
    )
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    inference: InferenceConfig = dataclasses.field(default_factory=InferenceConfig)
    distribute: Literal["none", "mirrored", "multi_worker"] = "none"


def field_types(cls):
    """{field name: resolved type} of a config dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}
