"""Optimizers with Keras 3's argument names, defaults and update rules."""

from .adadelta import KerasAdadelta as Adadelta
from .adagrad import KerasAdagrad as Adagrad
from .adam import KerasAdam as Adam
from .adam import KerasAdamW as AdamW
from .adamax import KerasAdamax as Adamax
from .lion import KerasLion as Lion
from .nadam import KerasNadam as Nadam
from .rmsprop import KerasRMSprop as RMSprop
from .sgd import KerasSGD as SGD

__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Lion", "Nadam", "RMSprop", "SGD"]
