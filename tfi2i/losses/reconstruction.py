"""Pixel losses: translation vs paired target (l1, l2, mixed), cycle reconstruction vs
source (cycle_*), identity mapping vs the output-domain image (identity_*) and a VAE's
reconstruction vs source (vae_*).

Each follows the plugin contract: built from its config params, called with a
`Translation`, returns one value per example (shape [batch]).
"""

import tensorflow as tf

from tfi2i.errors import Tfi2iError
from tfi2i.losses.translation import per_example_mean


class PixelLoss:
    """Compares `Translation.<prediction>` with `Translation.<reference>` pixel by pixel.

    `requires` tells the model which Translation fields to compute.
    """

    prediction = "translated"
    reference = "target"

    @property
    def requires(self):
        return (self.prediction, self.reference)

    def __call__(self, t):
        name = type(self).__name__
        return self.distance(t.require(self.prediction, name), t.require(self.reference, name))

    def distance(self, prediction, reference):
        raise NotImplementedError


class L1Loss(PixelLoss):
    """Mean absolute error, the pix2pix paper's L1 term."""

    def distance(self, prediction, reference):
        return per_example_mean(tf.abs(prediction - reference))


class L2Loss(PixelLoss):
    """Mean squared error."""

    def distance(self, prediction, reference):
        return per_example_mean(tf.square(prediction - reference))


class MixedLoss(PixelLoss):
    """Convex combination l1_fraction * L1 + (1 - l1_fraction) * L2."""

    def __init__(self, l1_fraction=0.5):
        if not 0.0 <= l1_fraction <= 1.0:
            raise Tfi2iError(f"mixed loss param l1_fraction must lie in [0, 1], got {l1_fraction}")
        self.l1_fraction = float(l1_fraction)

    def distance(self, prediction, reference):
        l1 = per_example_mean(tf.abs(prediction - reference))
        l2 = per_example_mean(tf.square(prediction - reference))
        return self.l1_fraction * l1 + (1.0 - self.l1_fraction) * l2


# Cycle consistency (CycleGAN): F(G(x)) should give back x.


class CycleL1Loss(L1Loss):
    """|F(G(x)) - x|, the CycleGAN paper's cycle-consistency loss (weight 10 there)."""

    prediction, reference = "reconstructed", "source"


class CycleL2Loss(L2Loss):
    prediction, reference = "reconstructed", "source"


class CycleMixedLoss(MixedLoss):
    prediction, reference = "reconstructed", "source"


# Identity mapping (CycleGAN): G should leave an image of its output domain unchanged.


class IdentityL1Loss(L1Loss):
    """|G(y) - y| for y of G's output domain; CycleGAN uses weight 0.5 x the cycle weight."""

    prediction, reference = "identity", "output_real"


class IdentityL2Loss(L2Loss):
    prediction, reference = "identity", "output_real"


class IdentityMixedLoss(MixedLoss):
    prediction, reference = "identity", "output_real"


# VAE reconstruction (UNIT): x encoded and decoded into its own domain should give back x.


class VAEL1Loss(L1Loss):
    """|G_1(E_1(x)) - x|, the UNIT paper's VAE likelihood term under a Laplacian (weight 100 there)."""

    prediction, reference = "autoencoded", "source"


class VAEL2Loss(L2Loss):
    prediction, reference = "autoencoded", "source"
