"""Losses: GAN objectives (`tfi2i.gan_losses`) and generator losses (`tfi2i.losses`)."""

from tfi2i.losses.translation import Translation, per_example_mean

__all__ = ["Translation", "per_example_mean"]
