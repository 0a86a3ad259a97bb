"""Loaders for MNIST-style datasets, with Keras-compatible ``load_data`` functions.

Example::

    from fastmlp.datasets import mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data()

Pure Python (stdlib + numpy); independent of the compiled core.
"""

from . import fashion_mnist, mnist, splits
from .download import DatasetDownloadError
from .idx import IDXFormatError, read_idx
from .mnist import DatasetFormatError

__all__ = [
    "mnist",
    "fashion_mnist",
    "splits",
    "read_idx",
    "DatasetDownloadError",
    "DatasetFormatError",
    "IDXFormatError",
]
