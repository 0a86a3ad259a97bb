"""fastmlp: fast CPU training of dense networks, with the optimizer kernels
in C++ (Eigen + OpenMP) under a Keras-shaped Python API."""

from . import callbacks, datasets, layers, optim, regularizers, saving
from ._core import build_info, get_flush_denormals, get_num_threads, set_flush_denormals, set_num_threads
from .models import History, NotCompiledError, Sequential, load_model

__version__ = "0.1.0"

__all__ = [
    "History",
    "NotCompiledError",
    "Sequential",
    "build_info",
    "callbacks",
    "datasets",
    "get_flush_denormals",
    "get_num_threads",
    "layers",
    "load_model",
    "optim",
    "regularizers",
    "saving",
    "set_flush_denormals",
    "set_num_threads",
    "__version__",
]
