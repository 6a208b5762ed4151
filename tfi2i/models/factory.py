"""Turns config sections into the objects they name, through the registry.

This is the one place where config meets registry entries: networks, losses and the model
class are looked up by name and built with their params, so models never read config. The
networks' layer classes and the Adam come from `train.kernels` (tfi2i.kernels).
"""

import inspect

from tfi2i import kernels, registry
from tfi2i.config import CROPPING_MODES
from tfi2i.errors import Tfi2iError, did_you_mean
from tfi2i.models.base import ModelParts, WeightedLoss
from tfi2i.nets import init as init_lib
from tfi2i.schedules import EpochSchedule, LearningRatePlateau, PlateauSchedule


def _check_params(factory, params, what, fixed=()):
    """Rejects params the factory does not accept, in one line naming the valid ones."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    accepted = [
        name for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in fixed and name != "self"
    ]
    if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
        return  # A factory taking **kwargs checks its own params.
    for key in params:
        if key not in accepted:
            raise Tfi2iError(
                f"{what}: unknown param '{key}'{did_you_mean(key, accepted)}; "
                f"accepted: {', '.join(accepted) or 'none'}"
            )


def lookup(group, name, params, what, fixed=()):
    """The registry entry `name` of `group`, after checking that it accepts `params`."""
    factory = registry.load(group, name)
    _check_params(factory, params, f"{what} '{name}'", fixed)
    return factory


def network_factory(group, part, what, image_size, fixed, init=None):
    builder = lookup(group, part.name, part.params, what, fixed)

    def make(*channels, name):
        network = builder(*channels, **{"image_size": image_size, **part.params, "name": name})
        return init_lib.initialize(network, init.type, init.gain) if init else network

    return make


def construct(group, name, params, what, *args, fixed=()):
    """Looks up a class or function by name and calls it with `args` and params."""
    factory = lookup(group, name, params, what, fixed)
    try:
        return factory(*args, **params)
    except (TypeError, ValueError) as error:
        raise Tfi2iError(f"{what} '{name}' rejected its params {params}: {error}") from None


def build_model(config, kernel_mode=None):
    """The model named by config.model, with its networks, GAN loss and losses; the networks'
    layers are those of `kernel_mode` (default: config.train.kernels)."""
    model_config, data = config.model, config.data
    parts = ModelParts(
        input_nc=data.input_nc,
        output_nc=data.output_nc,
        make_generator=network_factory(
            "tfi2i.generators", model_config.generator, "model.generator", data.crop_size,
            fixed=("input_nc", "output_nc", "name", "image_size"), init=model_config.init,
        ),
        make_discriminator=network_factory(
            "tfi2i.discriminators", model_config.discriminator, "model.discriminator", data.crop_size,
            fixed=("input_nc", "name", "image_size"), init=model_config.init,
        ),
        gan_loss=construct("tfi2i.gan_losses", model_config.gan_loss.name, model_config.gan_loss.params,
                           "model.gan_loss"),
        gan_weight=model_config.gan_loss.weight,
        losses=tuple(
            WeightedLoss(
                name=loss.name,
                fn=construct("tfi2i.losses", loss.name, loss.params, f"losses.{i}"),
                weight=loss.weight,
                directions=tuple(loss.directions) if loss.directions else None,
                distribution=registry.distribution_of("tfi2i.losses", loss.name),
            )
            for i, loss in enumerate(config.losses)
        ),
        discriminator_loss_weight=model_config.discriminator_loss_weight,
        n_critic=model_config.n_critic,
        seed=config.train.seed,
        image_size=data.crop_size if data.preprocess in CROPPING_MODES else None,
        inference_mode=config.inference.mode,
    )
    with kernels.building_with(kernel_mode or config.train.kernels):  # the networks are built in the model's init
        return construct("tfi2i.models", model_config.name, model_config.params, "model", parts, fixed=("parts",))


def learning_rate_plateau(config):
    """The plateau state both optimizers share under train.lr_policy: plateau, else None."""
    if config.train.lr_policy != "plateau":
        return None
    p = config.train.plateau
    return LearningRatePlateau(config.optimizer.lr, p.factor, p.patience, p.threshold, p.mode, p.min_lr)


def build_optimizer(config, steps_per_epoch, plateau=None):
    """The config's Adam; its rate follows `plateau` (a LearningRatePlateau) when given, else
    the epoch schedule of train.lr_policy over epochs of `steps_per_epoch` updates."""
    train, opt = config.train, config.optimizer
    if plateau is not None:
        schedule = PlateauSchedule(plateau)
    else:
        schedule = EpochSchedule(
            opt.lr, steps_per_epoch, train.lr_policy, train.n_epochs, train.n_epochs_decay, train.lr_decay_epochs
        )
    adam = kernels.kernel_set(train.kernels).Adam
    return adam(learning_rate=schedule, beta_1=opt.beta_1, beta_2=opt.beta_2, epsilon=opt.epsilon,
                epsilon_form=opt.epsilon_form)

