"""Sequential: a Keras-shaped model whose training runs in C++.

Python validates and converts the data once, then each epoch is one call
into the core (shuffle, mini-batches, forward, loss, backward, update) with
the GIL released."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np

from . import _core, _validation, optim, progress
from .layers import Activation, Dense, Layer

LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "mse")
_LOSS_ALIASES = {"mean_squared_error": "mse"}
_INFERENCE_BATCH = 1024  # rows per forward pass in predict/evaluate


class NotCompiledError(RuntimeError, ValueError):
    """fit/evaluate before compile."""


class History:
    """What ``fit`` returns: ``history`` maps Keras's metric names (loss,
    accuracy, val_loss, val_accuracy), ``learning_rate`` (the optimizer's
    rate after the epoch) and ``epoch_time`` (seconds) to one value per
    epoch, plus any key a callback added to the epoch's logs."""

    def __init__(self, params: dict):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params = params

    def _record(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _mix_seed(seed: int, stream: int) -> int:
    """A 64-bit seed for the `stream`-th epoch, decorrelated from neighbours."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, np.uint64)[0])


class Sequential:
    """A stack of layers, at least one of them Dense.

    Args:
        layers: ``fastmlp.layers`` instances (Dense, BatchNormalization,
            Dropout, Activation, Flatten), input to output.
        input_dim: features per sample; or
        input_shape: the shape of one sample, e.g. (28, 28); samples are
            flattened. Without either, the model is built by the first ``fit``.
        seed: makes initialization and shuffling reproducible: the same seed
            and thread count give bit-identical training. None draws one.
        name: shown by ``summary()``.
    """

    def __init__(
        self,
        layers: Sequence[Layer] | None = None,
        input_dim: int | None = None,
        input_shape: Sequence[int] | None = None,
        seed: int | None = None,
        name: str = "sequential",
    ):
        if input_dim is not None and input_shape is not None:
            raise ValueError("give input_dim or input_shape, not both")
        self._network = None
        self.layers: list[Layer] = []
        for layer in layers or []:
            self.add(layer)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.seed = int(seed)
        self.name = name
        self.input_shape: tuple[int, ...] | None = None
        self._optimizer: optim.Optimizer | None = None
        self._loss: str | None = None
        self._metrics: list[str] = []
        self._epochs_run = 0
        self._sparse_input_max_density = _core.DEFAULT_SPARSE_INPUT_MAX_DENSITY
        if input_dim is not None:
            self.input_shape = (_validation.positive_int(input_dim, "input_dim"),)
        elif input_shape is not None:
            self.input_shape = tuple(_validation.positive_int(d, "input_shape entries") for d in input_shape)
            if not self.input_shape:
                raise ValueError("input_shape must not be empty")
        if self.input_shape is not None and self.layers:
            self.build(self.input_shape)

    # ----------------------------------------------------------- building
    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential takes fastmlp.layers layers (Dense, BatchNormalization, Dropout, "
                f"Activation, Flatten), got {type(layer).__name__}"
            )
        if self._network is not None:
            raise RuntimeError("cannot add layers to a model that is already built")
        if layer.built:
            raise ValueError(f"layer {layer.name} already belongs to a built model")
        self.layers.append(layer)

    @property
    def built(self) -> bool:
        return self._network is not None

    def build(self, input_shape: Sequence[int]) -> None:
        """Allocate the parameters for samples of `input_shape` and initialize them."""
        if self._network is not None:
            return
        if not any(isinstance(l, Dense) for l in self.layers):
            raise ValueError("the model has no layers" if not self.layers else "the model needs a Dense layer")
        if self._loss is not None:
            self._check_output_layer(self._loss)  # compiled before its layers were added
        self.input_shape = tuple(int(d) for d in input_shape)
        width = int(np.prod(self.input_shape))
        core_layers = [l for l in self.layers if l.core_spec() is not None]
        self._network = _core.Network(width, [l.core_spec() for l in core_layers])
        self._network.initialize(_mix_seed(self.seed, 0))
        if self._network.sparse_input_max_density is not None:
            self._network.sparse_input_max_density = self._sparse_input_max_density
        counts: dict[str, int] = {}
        core_index = 0
        for layer in self.layers:
            stem = layer.name_stem
            name = stem if stem not in counts else f"{stem}_{counts[stem]}"
            counts[stem] = counts.get(stem, 0) + 1
            if layer.core_spec() is None:
                layer._attach(self._network, None, name)
            else:
                layer._attach(self._network, core_index, name)
                core_index += 1
        if self._loss is not None:
            self._bind_training()

    @property
    def sparse_input_max_density(self) -> float:
        """Fraction of nonzero inputs up to which the first layer's products skip
        the zeros (default 0.3; MNIST's pixels are 19% nonzero). Exact: a zero
        input adds nothing, and on AVX-512 builds the result has the same bits
        as the dense product's. Checked per chunk of 256 rows; denser chunks
        take the dense product. 0 always takes the dense product."""
        return self._sparse_input_max_density

    @sparse_input_max_density.setter
    def sparse_input_max_density(self, density: float) -> None:
        if (
            isinstance(density, bool)
            or not isinstance(density, (int, float, np.integer, np.floating))
            or not 0 <= density <= 1
        ):
            raise ValueError(f"sparse_input_max_density must be a number in [0, 1], got {density!r}")
        self._sparse_input_max_density = float(density)
        if self._network is not None:
            self._network.sparse_input_max_density = float(density)

    @property
    def output_dim(self) -> int:
        # The last Dense layer sets the width; the layers after it (Activation, Dropout, ...) keep it.
        return [l for l in self.layers if isinstance(l, Dense)][-1].units

    def count_params(self) -> int:
        """All parameters, trainable or not (batch normalization's moving statistics are not)."""
        self._require_built()
        return self._network.num_params + self._network.moving_stats.size

    # ---------------------------------------------------------- compiling
    def compile(self, optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=None) -> None:
        """Choose the optimizer (a name such as "sgd", meaning the Keras class
        with Keras's defaults, or an optimizer object), the loss and metrics."""
        loss = _LOSS_ALIASES.get(loss, loss)
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
        self._check_output_layer(loss)
        metrics = list(metrics or [])
        for metric in metrics:
            if metric not in ("accuracy", "acc"):
                raise ValueError(f"unknown metric {metric!r}; supported: 'accuracy'")
        self._optimizer = optim.get(optimizer)
        self._loss = loss
        self._metrics = ["accuracy"] if metrics else []
        if self._network is not None:
            self._bind_training()

    def _check_output_layer(self, loss: str) -> None:
        """The cross-entropy losses read the logits of a last Dense softmax layer (the core
        fuses the softmax into the loss); any other last layer is refused here, before
        the core would refuse it."""
        core_layers = [l for l in self.layers if l.core_spec() is not None]
        if loss == "mse" or not core_layers:
            return
        last = core_layers[-1]
        if isinstance(last, Dense) and last.activation == "softmax":
            return
        message = f"loss {loss!r} needs a Dense softmax output layer; the last layer is {last!r}"
        if isinstance(last, Activation) and last.activation == "softmax":
            message += (
                ': give the softmax to the Dense layer before it (Dense(units, activation="softmax")) '
                'in place of a separate Activation("softmax"), or use loss="mse"'
            )
        raise ValueError(message)

    def _bind_training(self) -> None:
        self._network.set_loss(self._loss)
        self._network.set_optimizer(self._optimizer._bind_flat(self._network.num_params))

    @property
    def optimizer(self) -> optim.Optimizer | None:
        return self._optimizer

    @property
    def loss(self) -> str | None:
        return self._loss

    # ------------------------------------------------------------- data
    def _require_built(self) -> None:
        if self._network is None:
            raise RuntimeError("the model is not built yet: give it input_dim or input_shape, or call fit first")

    def _require_compiled(self, action: str) -> None:
        if self._loss is None:
            raise NotCompiledError(f"call model.compile(...) before {action}")

    def _features(self, x, name: str = "x") -> np.ndarray:
        if self._network is None:
            if self.input_shape is None:
                array = np.asarray(x)
                if array.ndim < 2:
                    raise ValueError(f"{name} has shape {array.shape}; expected (samples, features...)")
                self.input_shape = tuple(array.shape[1:])
            self.build(self.input_shape)
        return _validation.features(x, self.input_shape, name)

    def _targets(self, y, rows: int, name: str = "y") -> np.ndarray:
        if self._loss == "sparse_categorical_crossentropy":
            return _validation.class_labels(y, rows, self.output_dim, name)
        return _validation.dense_targets(y, rows, self.output_dim, self._loss, name)

    # ---------------------------------------------------------- training
    def fit(
        self,
        x,
        y,
        batch_size: int = 32,
        epochs: int = 1,
        verbose: int = 1,
        validation_split: float = 0.0,
        validation_data=None,
        shuffle: bool = True,
        callbacks=None,
    ) -> History:
        """Train for `epochs` passes over (x, y); returns a History.

        validation_data=(x_val, y_val) is evaluated after each epoch;
        validation_split=f instead holds out the last fraction f of x and y
        (before shuffling), as Keras does.
        callbacks: a list of ``fastmlp.callbacks.Callback``; their hooks run at
        train and epoch boundaries (there are no per-batch hooks: an epoch is
        one C++ call), and one may set ``model.stop_training = True`` to end
        training after the current epoch.
        """
        from .callbacks import CallbackList, validate_callbacks

        self._require_compiled("fit")
        callbacks = validate_callbacks(callbacks)
        batch_size = _validation.positive_int(batch_size, "batch_size")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        x = self._features(x)
        y = self._targets(y, x.shape[0])
        if validation_data is not None:
            if validation_split:
                raise ValueError("give validation_data or validation_split, not both")
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (x_val, y_val)")
            x_val = self._features(validation_data[0], "x_val")
            y_val = self._targets(validation_data[1], x_val.shape[0], "y_val")
        elif validation_split:
            split_at = int(np.ceil(x.shape[0] * (1.0 - validation_split)))
            if split_at in (0, x.shape[0]):
                raise ValueError(f"validation_split={validation_split} leaves no samples on one side of {x.shape[0]}")
            x, x_val, y, y_val = x[:split_at], x[split_at:], y[:split_at], y[split_at:]
        else:
            x_val = y_val = None

        history = History({"batch_size": batch_size, "epochs": epochs, "samples": x.shape[0]})
        steps = -(-x.shape[0] // batch_size)
        callback_list = CallbackList(callbacks, model=self, steps=steps, verbose=verbose, **history.params)
        self.stop_training = False
        callback_list.on_train_begin()
        logs = None
        for epoch in range(epochs):
            callback_list.on_epoch_begin(epoch)
            self._epochs_run += 1
            start = time.perf_counter()
            rates = self._optimizer._rates_for_steps(self._optimizer.iterations, steps)
            bar = (
                progress.ProgressBar(epoch, epochs, bool(self._metrics))
                if verbose == 1 and progress.interactive(sys.stdout)
                else None
            )
            loss_sum, correct, count = self._network.train_epoch(
                x, y, batch_size, bool(shuffle), _mix_seed(self.seed, self._epochs_run), rates, bar, progress.INTERVAL
            )
            logs = {"loss": loss_sum / count}
            if self._metrics:
                logs["accuracy"] = correct / count
            if x_val is not None:
                val_loss, val_correct, val_count = self._network.evaluate(x_val, y_val, _INFERENCE_BATCH)
                logs["val_loss"] = val_loss / val_count
                if self._metrics:
                    logs["val_accuracy"] = val_correct / val_count
            logs["learning_rate"] = float(self._optimizer.learning_rate)
            logs["epoch_time"] = time.perf_counter() - start
            callback_list.on_epoch_end(epoch, logs)  # callbacks may add keys; History records them
            history._record(epoch, logs)
            if verbose:
                summary = f"Epoch {epoch + 1}/{epochs} - {logs['epoch_time']:.2f}s - " + " - ".join(
                    f"{k}: {v:.4g}"
                    if k == "learning_rate"
                    else f"{k}: {v:.4f}"
                    if isinstance(v, (float, int, np.number))
                    else f"{k}: {v}"
                    for k, v in logs.items()
                    if k != "epoch_time"
                )
                if bar is not None:
                    bar.finish(summary)
                else:
                    print(summary, flush=True)
            if not np.isfinite(logs["loss"]):
                if verbose:
                    print("Loss is NaN or Inf: stopping (lower the learning rate, or scale the inputs)")
                break
            if self.stop_training:
                break
        callback_list.on_train_end(logs)
        return history

    def train_on_batch(self, x, y) -> tuple[float, float]:
        """One step (forward, loss, backward, update) on one batch; returns
        the batch's (loss, accuracy) measured before the update."""
        self._require_compiled("train_on_batch")
        x = self._features(x)
        y = self._targets(y, x.shape[0])
        self._optimizer._sync_learning_rate()
        loss_sum, correct, count = self._network.train_step(x, y)
        return loss_sum / count, correct / count

    # --------------------------------------------------------- inference
    def evaluate(self, x, y, batch_size: int | None = None, verbose: int = 0) -> tuple[float, float]:
        """(loss, accuracy) over all of x."""
        self._require_compiled("evaluate")
        batch_size = _INFERENCE_BATCH if batch_size is None else _validation.positive_int(batch_size, "batch_size")
        x = self._features(x)
        y = self._targets(y, x.shape[0])
        loss_sum, correct, count = self._network.evaluate(x, y, batch_size)
        if verbose:
            print(f"loss: {loss_sum / count:.4f} - accuracy: {correct / count:.4f}")
        return loss_sum / count, correct / count

    def predict(self, x, batch_size: int | None = None) -> np.ndarray:
        """Outputs of the last layer (class probabilities for softmax), float32 (n, outputs)."""
        batch_size = _INFERENCE_BATCH if batch_size is None else _validation.positive_int(batch_size, "batch_size")
        x = self._features(x)
        return self._network.predict(x, batch_size)

    # ----------------------------------------------------------- weights
    def get_weights(self) -> list[np.ndarray]:
        """Copies of every layer's arrays in Keras's order: [kernel, bias] for
        Dense, [gamma, beta, moving_mean, moving_variance] for BatchNormalization
        (Dropout, Activation and Flatten have none)."""
        self._require_built()
        return [view.copy() for layer in self.layers for view in layer.weights]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Load arrays in the order and shapes get_weights returns them."""
        self._require_built()
        weights = list(weights)
        targets = [view for layer in self.layers for view in layer.weights]
        if len(weights) != len(targets):
            raise ValueError(
                f"set_weights got {len(weights)} arrays; the model has {len(targets)} "
                "(kernel and bias per Dense layer, 4 per BatchNormalization)"
            )
        arrays = []
        for i, (value, target) in enumerate(zip(weights, targets)):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(f"weight {i} has shape {value.shape}; expected {target.shape}")
            if value.dtype.kind not in "fiu" or not np.isfinite(value).all():
                raise ValueError(f"weight {i} must hold finite numbers")
            arrays.append(value)
        for value, target in zip(arrays, targets):  # all checked first: no half-loaded model
            target[...] = value

    @property
    def weights(self) -> np.ndarray:
        """All parameters as one flat float32 view (zero copy)."""
        self._require_built()
        return self._network.params

    # ------------------------------------------------------------ report
    def summary(self, print_fn=print) -> None:
        """Print layers, output shapes and parameter counts, as Keras does."""
        self._require_built()
        rows = [("Layer (type)", "Output Shape", "Param #")]
        width = int(np.prod(self.input_shape))
        for layer in self.layers:
            width = layer.output_width(width)
            rows.append((f"{layer.name} ({type(layer).__name__})", f"(None, {width})", f"{layer.count_params:,}"))
        widths = [max(len(r[i]) for r in rows) + 4 for i in range(3)]
        rule = "_" * sum(widths)
        lines = [f'Model: "{self.name}"', rule]
        lines.append("".join(c.ljust(w) for c, w in zip(rows[0], widths)))
        lines.append("=" * sum(widths))
        shape = ", ".join(map(str, self.input_shape))
        lines.append(
            f"Input: (None, {shape})"
            + (f" flattened to (None, {int(np.prod(self.input_shape))})" if len(self.input_shape) > 1 else "")
        )
        for row in rows[1:]:
            lines.append("".join(c.ljust(w) for c, w in zip(row, widths)))
        lines.append("=" * sum(widths))
        total = self.count_params()
        trainable = self._network.num_params
        lines.append(f"Total params: {total:,} ({total * 4 / 1024:.2f} KB)")
        lines.append(f"Trainable params: {trainable:,}")
        lines.append(f"Non-trainable params: {total - trainable:,}")
        lines.append(rule)
        print_fn("\n".join(lines))

    # ------------------------------------------------------------ saving
    def get_config(self) -> dict:
        """The architecture, JSON-serializable: name, seed, input_shape (None
        until known) and each layer's ``get_config()`` (with its "class_name")."""
        return {
            "class_name": "Sequential",
            "name": self.name,
            "seed": self.seed,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "layers": [layer.get_config() for layer in self.layers],
        }

    def save(self, path) -> None:
        """Save everything to one file at `path` (any name; ``model.fmlp`` is
        the convention): architecture, weights, compile settings, optimizer
        state and the epoch count, so ``fastmlp.load_model(path)`` predicts
        identically and resumes training on the same trajectory. The file is
        replaced atomically (written beside it, then renamed). See
        ``fastmlp.saving`` for the format."""
        from .saving import save_model

        save_model(self, path)


def load_model(path) -> Sequential:
    """The model ``model.save(path)`` wrote. Raises FileNotFoundError for a
    missing file and ``fastmlp.saving.SaveFormatError`` (a ValueError naming
    the file) for one that is not a complete fastmlp save."""
    from .saving import load_model as _load_model

    return _load_model(path)
