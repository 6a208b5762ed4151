"""Machinery every two-player translation model shares: parts, optimizers, loss reduction, metrics."""

import collections
import dataclasses
from typing import Callable, Optional

import keras
import tensorflow as tf

from tfi2i.errors import Tfi2iError
from tfi2i.nets import test_time


@dataclasses.dataclass(frozen=True)
class WeightedLoss:
    """A `tfi2i.losses` plugin with its weight and the directions it applies to."""

    name: str
    fn: Callable
    weight: float = 1.0
    directions: Optional[tuple] = None  # None: every direction of the model
    distribution: str = "unknown distribution"  # that registers it, for errors that name it

    def applies_to(self, direction):
        return self.directions is None or direction in self.directions

    def __call__(self, translation):
        """The plugin's per-example values, shape [batch]; a plugin that raises or returns
        another shape is named in a one-line error (traced in the first step, so it fails
        before training)."""
        try:
            values = self.fn(translation)
        except Tfi2iError:
            raise
        except Exception as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise Tfi2iError(
                f"loss '{self.name}' from distribution '{self.distribution}' failed: {type(error).__name__}"
                f"{': ' + message[:200] if message else ''}; fix the plugin or remove it from 'losses'"
            ) from None
        shape = getattr(values, "shape", None)
        if shape is None or len(shape) != 1 or shape[0] not in (None, translation.source.shape[0]):
            raise Tfi2iError(
                f"loss '{self.name}' from distribution '{self.distribution}' returned shape "
                f"{list(shape) if shape is not None else type(values).__name__}, where a tfi2i.losses entry "
                f"returns one value per example (shape [batch]); fix the plugin or remove it from 'losses'"
            )
        return values


@dataclasses.dataclass(frozen=True)
class ModelParts:
    """Everything a model class needs to build itself; made by the factory from the config.

    make_generator(input_nc, output_nc, name) and make_discriminator(input_nc, name) build
    fresh networks, so a model can ask for as many as it uses.
    """

    input_nc: int
    output_nc: int
    make_generator: Callable
    make_discriminator: Callable
    gan_loss: object
    gan_weight: float = 1.0
    losses: tuple = ()
    discriminator_loss_weight: float = 0.5
    n_critic: int = 1  # discriminator updates per generator update
    seed: int = 0
    # Side of the square training images, or None when preprocessing keeps each image's size.
    image_size: Optional[int] = None
    inference_mode: str = "eval"  # how sample grids run the networks (tfi2i.nets.test_time)


class TranslationModel(keras.Model):
    """Base class: a generator side and a discriminator side, each with its own optimizer.

    Subclasses define `directions`, `provides` (the Translation fields they can fill), the
    `generator_variables` / `discriminator_variables` of each player and
    `loss_terms(real_a, real_b, training)`, which returns both players' per-example terms;
    `train_step` (both players from one forward pass) and `test_step` are shared, and a model
    that updates its players in turn (UNIT) overrides `train_step`. Every train step updates D
    `n_critic` times (WGAN's critic iterations, on the step's batch) and G once. Losses are reduced over the GLOBAL batch
    (`tf.nn.compute_average_loss`), so the gradients are right under any tf.distribute strategy.
    """

    directions = ("a2b",)
    provides = ("source", "translated")
    needs_pairs = False  # True: trains only on paired (aligned) examples
    stacks_passes = False  # True: `both` may run two passes of a network as one call

    def __init__(self, parts, **kwargs):
        super().__init__(**kwargs)
        self.gan_loss = parts.gan_loss
        self.gan_weight = parts.gan_weight
        self.translation_losses = tuple(parts.losses)
        self.discriminator_loss_weight = parts.discriminator_loss_weight
        self.n_critic = parts.n_critic
        self.inference_mode = parts.inference_mode
        self.test_time_networks = test_time.TestTimeNetworks(parts.inference_mode)
        self.seed_generator = keras.random.SeedGenerator(parts.seed)
        self._check_losses()
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names()}

    # --- description --------------------------------------------------------------------

    def _check_losses(self):
        counts = collections.Counter(loss.name for loss in self.translation_losses)
        for name, count in counts.items():
            if count > 1:
                raise Tfi2iError(f"loss '{name}' is listed {count} times in 'losses'; list it once")
        for loss in self.translation_losses:
            for field in getattr(loss.fn, "requires", ()):
                if field not in self.provides:
                    raise Tfi2iError(
                        f"loss '{loss.name}' needs Translation.{field}, which model "
                        f"'{type(self).__name__}' does not provide; remove it from 'losses'"
                    )
            unknown = set(loss.directions or ()) - set(self.directions)
            if unknown:
                raise Tfi2iError(
                    f"loss '{loss.name}' lists direction(s) {sorted(unknown)}, but model "
                    f"'{type(self).__name__}' translates only {', '.join(self.directions)}"
                )

    def uses(self, field):
        """Whether some configured loss reads Translation.<field>, so the model must compute it."""
        # A plugin that does not declare `requires` gets every field the model can fill.
        return any(field in getattr(loss.fn, "requires", self.provides) for loss in self.translation_losses)

    @property
    def has_gan_penalty(self):
        # GAN-loss plugins need not subclass GANLoss; only those that say so get a penalty term.
        return getattr(self.gan_loss, "has_penalty", False)

    def streams(self, real_a, real_b):
        """(direction, source, real image of the output domain) for each direction."""
        pairs = {"a2b": (real_a, real_b), "b2a": (real_b, real_a)}
        return [(direction, *pairs[direction]) for direction in self.directions]

    def loss_key(self, name, direction):
        return name if len(self.directions) == 1 else f"{name}_{direction}"

    def metric_names(self):
        """Names of every tracked loss, in display order: totals, then each direction's terms."""
        g_names, d_names = ["g_total"], ["d_total"]
        for direction in self.directions:
            g_names.append(self.loss_key("g_gan", direction))
            g_names += [self.loss_key(loss.name, direction)
                        for loss in self.translation_losses if loss.applies_to(direction)]
            d_key = self.loss_key("d_gan", direction)
            d_names += [d_key, f"{d_key}_penalty"] if self.has_gan_penalty else [d_key]
        return g_names + d_names

    @property
    def metrics(self):
        # Listing the trackers lets Keras reset them at each epoch.
        return list(self.trackers.values())

    def translator(self, direction):
        """A Keras model mapping images of one direction's source domain to its output domain:
        what is exported and served."""
        raise NotImplementedError

    def infer(self, network, images):
        """`network` on `images` as the config's inference mode runs it (for the sample grids)."""
        return self.test_time_networks(network)(images, training=False)

    def check_direction(self, direction):
        if direction not in self.directions:
            raise Tfi2iError(
                f"model '{type(self).__name__}' translates only {', '.join(self.directions)}, not {direction}; "
                f"pick one of those"
            )

    @property
    def generator_variables(self):
        raise NotImplementedError

    @property
    def discriminator_variables(self):
        raise NotImplementedError

    # --- optimizers ---------------------------------------------------------------------

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        # optimizer=None keeps Keras from creating a default optimizer nobody uses.
        super().compile(optimizer=None, **kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    def build_optimizers(self):
        """Creates the optimizer slots now (under a strategy they must exist before fit), and
        hands D's weights the GAN loss's constraint, which the optimizer applies after each
        update (WGAN's clip)."""
        self.generator_optimizer.build(self.generator_variables)
        self.discriminator_optimizer.build(self.discriminator_variables)
        constraint = getattr(self.gan_loss, "discriminator_constraint", None)
        if constraint is not None:
            for variable in self.discriminator_variables:
                variable.constraint = constraint

    @property
    def optimizers(self):
        return {"generator": self.generator_optimizer, "discriminator": self.discriminator_optimizer}

    @property
    def trained_steps(self):
        """Training steps taken: the generator optimizer's count, which checkpoints restore."""
        return int(self.generator_optimizer.iterations.numpy())

    # --- training ------------------------------------------------------------------------

    def loss_terms(self, real_a, real_b, training):
        """(generator terms, discriminator terms): dicts of per-example values."""
        raise NotImplementedError

    def train_step(self, data):
        real_a, real_b = data
        # With n_critic > 1, D's extra updates come first, each from its own forward pass.
        self.discriminator_steps(self.n_critic - 1, lambda: self.loss_terms(real_a, real_b, training=True)[1])
        # G and D are updated from the same forward pass, each with its own tape: D's
        # gradient ignores G's variables and G's ignores D's.
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            g_terms, d_terms = self.loss_terms(real_a, real_b, training=True)
            g_loss = self.objective(g_terms, self.generator_optimizer)
            d_loss = self.objective(d_terms, self.discriminator_optimizer)
        self.update(g_tape, g_loss, self.generator_variables, self.generator_optimizer)
        self.update(d_tape, d_loss, self.discriminator_variables, self.discriminator_optimizer)
        return self.track(g_terms, d_terms)

    def test_step(self, data):
        real_a, real_b = data
        g_terms, d_terms = self.loss_terms(real_a, real_b, training=False)
        return self.track(g_terms, d_terms)

    # --- loss helpers -------------------------------------------------------------------

    def objective(self, terms, optimizer):
        """The scalar a player's tape differentiates: the summed terms over the replica's
        examples / the global batch, times the loss scale under float16 mixed precision."""
        return optimizer.scale_loss(tf.nn.compute_average_loss(tf.add_n(list(terms.values()))))

    def translation_loss_terms(self, translation, direction):
        """Weighted per-example values of every configured loss for one direction."""
        return {
            self.loss_key(loss.name, direction): loss.weight * loss(translation)
            for loss in self.translation_losses
            if loss.applies_to(direction)
        }

    def discriminator_terms(self, discriminator, real, fake, real_logits, fake_logits, key):
        """The discriminator's GAN term (and gradient penalty, where the loss has one), both
        scaled by discriminator_loss_weight: the penalty is part of D's objective, and keeps its
        weight against the GAN term (WGAN-GP's lambda) whatever the scale."""
        weight = self.discriminator_loss_weight
        terms = {key: weight * self.gan_loss.discriminator(real_logits, fake_logits)}
        if self.has_gan_penalty:
            terms[f"{key}_penalty"] = weight * self.gan_loss.penalty(discriminator, real, fake, self.seed_generator)
        return terms

    def discriminator_first_step(self, forward, discriminator_terms, generator_terms):
        """One step in the reference's order: G's forward pass `forward()` on G's tape, then
        `n_critic` updates of D on `discriminator_terms(outputs)` (outside G's tape: fakes that
        carry no gradient to G), then G's update on `generator_terms(outputs)`, against the
        updated D."""
        with tf.GradientTape() as g_tape:
            outputs = forward()
            with g_tape.stop_recording():
                d_terms = self.discriminator_steps(self.n_critic, lambda: discriminator_terms(outputs))
            g_terms = generator_terms(outputs)
            g_loss = self.objective(g_terms, self.generator_optimizer)
        self.update(g_tape, g_loss, self.generator_variables, self.generator_optimizer)
        return self.track(g_terms, d_terms)

    def discriminator_steps(self, count, terms):
        """`count` updates of D, each on the terms `terms()` computes (D's per-example terms);
        returns the last update's terms."""
        d_terms = None
        for _ in range(count):
            with tf.GradientTape() as tape:
                d_terms = terms()
                d_loss = self.objective(d_terms, self.discriminator_optimizer)
            self.update(tape, d_loss, self.discriminator_variables, self.discriminator_optimizer)
        return d_terms

    def both(self, network, x, y, training):
        """network(x), network(y): one call on the two stacked where `stacks_passes` says that
        gives the same results (faster on CPU: 3x3 convs at 32x32 gain 4%, a PatchGAN's 16x16
        ones 10-24%)."""
        if not (self.stacks_passes and x.shape[1:].is_fully_defined() and x.shape[1:] == y.shape[1:]):
            return network(x, training=training), network(y, training=training)
        outputs = network(tf.concat([x, y], axis=0), training=training)
        return tf.split(outputs, [tf.shape(x)[0], tf.shape(y)[0]])

    def update(self, tape, loss, variables, optimizer):
        """One optimizer step on a reduced loss recorded by `tape`."""
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))

    def track(self, g_terms, d_terms):
        """Updates the trackers with each term's batch mean (and both totals); returns the logs."""
        terms = {
            **g_terms, "g_total": tf.add_n(list(g_terms.values())),
            **d_terms, "d_total": tf.add_n(list(d_terms.values())),
        }
        for name, values in terms.items():
            self.trackers[name].update_state(tf.reduce_mean(values))
        return {name: tracker.result() for name, tracker in self.trackers.items()}


class OneWayModel(TranslationModel):
    """A model of one generator A -> B (`self.generator`) and one discriminator
    (`self.discriminator`), as pix2pix and CUT: its players, its call and its translator."""

    @property
    def generator_variables(self):
        return self.generator.trainable_variables

    @property
    def discriminator_variables(self):
        return self.discriminator.trainable_variables

    def call(self, images, training=False):
        return self.generator(images, training=training)

    def translator(self, direction):
        self.check_direction(direction)
        return self.generator
