"""KL divergence of latent codes from the prior N(0, I): UNIT's VAE and cycle KL terms.

UNIT's encoders give the mean mu of q(z|x) = N(mu, I); the variance is fixed at one by the
noise the model adds (z = mu + eta, eta ~ N(0, I)). Against the prior N(0, I) the divergence is
then KL = 0.5 * sum(mu^2) over the latent's D elements. These losses return mean(mu^2) per
example, which is 2 KL / D: the simplification the UNIT reference implementation optimizes, so
the paper's weights (0.1) apply as they stand.
"""

import tensorflow as tf

from tfi2i.losses.translation import per_example_mean


def mean_square(latent):
    return per_example_mean(tf.square(latent))


class LatentKLLoss:
    """KL term of the VAE objective: the encoding of x against N(0, I)."""

    requires = ("latent",)

    def __call__(self, t):
        return mean_square(t.require("latent", "vae_kl"))


class CycleKLLoss:
    """The KL terms of UNIT's cycle objective: the encoding of x and the encoding of G(x), each
    against N(0, I) (the paper's lambda_3 terms)."""

    requires = ("latent", "cycle_latent")

    def __call__(self, t):
        return mean_square(t.require("latent", "cycle_kl")) + mean_square(t.require("cycle_latent", "cycle_kl"))
