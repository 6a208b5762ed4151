"""Generators and discriminators as Keras functional models."""
