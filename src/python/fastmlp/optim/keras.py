"""Optimizers with Keras 3's argument names, defaults and update rules."""

from .sgd import KerasSGD as SGD

__all__ = ["SGD"]
