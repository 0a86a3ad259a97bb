"""Type stub for fastmlp's compiled core (src/cpp/bindings)."""

from typing import Any, Callable, overload

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def set_flush_denormals(on: bool) -> bool: ...
def get_flush_denormals() -> bool: ...

DEFAULT_SPARSE_INPUT_MAX_DENSITY: float

def build_info() -> dict[str, Any]: ...
def allocation_counter_enabled() -> bool: ...

# Instrumented builds only (FASTMLP_INSTRUMENT=ON): the allocation counter and the bench bindings.
def allocation_count() -> int: ...
def matmul(
    a: F32, b: F32, out: F32, transpose_a: bool = False, transpose_b: bool = False, accumulate: bool = False
) -> None: ...
def eigen_matmul(
    a: F32, b: F32, out: F32, transpose_a: bool = False, transpose_b: bool = False, accumulate: bool = False
) -> None: ...
def stream_adam_shaped(p: F32, g: F32, m: F32, v: F32) -> None: ...
def sgd_step(params: F32, grads: F32, lr: float) -> None: ...
def sum_of_squares(array: F32) -> float: ...
def scale_and_clip(array: F32, scale: float, clip: float) -> None: ...

class Optimizer:
    learning_rate: float
    iterations: int
    maximize: bool
    l2_weight_decay: float
    decoupled_weight_decay: float
    torch_decay_form: bool
    clip_value: float
    clip_norm: float
    global_clip_norm: float
    @property
    def name(self) -> str: ...
    @property
    def state_names(self) -> list[str]: ...
    @property
    def scalar_names(self) -> list[str]: ...
    @property
    def bound_size(self) -> int: ...
    def bind(self, n: int) -> None: ...
    def state(self, index: int) -> F32: ...
    def get_scalar(self, index: int) -> float: ...
    def set_scalar(self, index: int, value: float) -> None: ...
    def step(self, params: F32 | list[F32], grads: F32 | list[F32]) -> None: ...

class TorchSGD(Optimizer):
    momentum: float
    dampening: float
    nesterov: bool

class KerasSGD(Optimizer):
    momentum: float
    nesterov: bool

class TorchAdagrad(Optimizer):
    lr_decay: float
    initial_accumulator_value: float
    eps: float

class KerasAdagrad(Optimizer):
    initial_accumulator_value: float
    epsilon: float

class TorchRMSprop(Optimizer):
    alpha: float
    eps: float
    momentum: float
    centered: bool

class KerasRMSprop(Optimizer):
    rho: float
    epsilon: float
    momentum: float
    centered: bool

class TorchAdam(Optimizer):
    beta1: float
    beta2: float
    eps: float
    amsgrad: bool

class KerasAdam(Optimizer):
    beta1: float
    beta2: float
    epsilon: float
    amsgrad: bool

class TorchAdamax(Optimizer):
    beta1: float
    beta2: float
    eps: float

class KerasAdamax(Optimizer):
    beta1: float
    beta2: float
    epsilon: float

class TorchNAdam(Optimizer):
    beta1: float
    beta2: float
    eps: float
    momentum_decay: float

class KerasNadam(Optimizer):
    beta1: float
    beta2: float
    epsilon: float

class TorchRAdam(Optimizer):
    beta1: float
    beta2: float
    eps: float

class Adadelta(Optimizer):
    rho: float
    eps: float

class Lion(Optimizer):
    beta1: float
    beta2: float

class Network:
    @overload
    def __init__(
        self, input_dim: int, units: list[int], activations: list[str], kernel_initializers: list[str] = ...
    ) -> None: ...
    @overload
    def __init__(self, input_dim: int, layers: list[dict[str, Any]]) -> None: ...
    @property
    def input_dim(self) -> int: ...
    @property
    def output_dim(self) -> int: ...
    @property
    def num_layers(self) -> int: ...
    @property
    def num_params(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def params(self) -> F32: ...
    @property
    def grads(self) -> F32: ...
    @property
    def moving_stats(self) -> F32: ...
    sparse_input_max_density: float | None
    @property
    def last_sparse_rows(self) -> int: ...
    @property
    def last_step(self) -> str: ...
    def layer_params(self, layer: int) -> tuple[F32, ...]: ...
    def layer_grads(self, layer: int) -> tuple[F32, ...]: ...
    def seed_dropout(self, seed: int) -> None: ...
    def initialize(self, seed: int) -> None: ...
    def set_loss(self, loss: str) -> None: ...
    def set_optimizer(self, optimizer: Optimizer) -> None: ...
    def train_step(self, x: F32, y: np.ndarray) -> tuple[float, int, int]: ...
    def train_epoch(
        self,
        x: F32,
        y: np.ndarray,
        batch_size: int,
        shuffle: bool,
        seed: int,
        learning_rates: npt.NDArray[np.float64] | None = None,
        progress: Callable[[float, int, int, int, int], None] | None = None,
        progress_interval: float = 0.1,
    ) -> tuple[float, int, int]: ...
    def predict(self, x: F32, batch_size: int) -> F32: ...
    def evaluate(self, x: F32, y: np.ndarray, batch_size: int) -> tuple[float, int, int]: ...
    # Instrumented builds only (FASTMLP_INSTRUMENT=ON):
    def set_profiling(self, on: bool) -> None: ...
    def profile(self) -> dict[str, float]: ...
    def allocations_in_train_steps(self, x: F32, y: np.ndarray, steps: int) -> int: ...
    def allocations_in_train_epoch(self, x: F32, y: np.ndarray, batch_size: int, seed: int = 0) -> int: ...

class kernels:
    @staticmethod
    def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray: ...
    @staticmethod
    def dense_backward(x: np.ndarray, W: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
    @staticmethod
    def activation_forward(name: str, z: np.ndarray) -> np.ndarray: ...
    @staticmethod
    def activation_backward(name: str, a: np.ndarray, da: np.ndarray) -> np.ndarray: ...
    @staticmethod
    def softmax_sparse_crossentropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray, int]: ...
    @staticmethod
    def softmax_crossentropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray, int]: ...
    @staticmethod
    def mean_squared_error(predictions: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray, int]: ...
    @staticmethod
    def batchnorm_forward_train(
        x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: float = 1e-3
    ) -> tuple[np.ndarray, ...]: ...
    @staticmethod
    def batchnorm_backward(
        dy: np.ndarray, x_hat: np.ndarray, gamma: np.ndarray, inv_std: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
