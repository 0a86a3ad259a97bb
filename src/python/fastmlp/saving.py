"""Saving and loading whole models: ``model.save(path)`` and
``fastmlp.load_model(path)``.

A save is one file (any name; ``.fmlp`` is the suggested extension). It is a
zip archive laid out like NumPy's ``.npz`` (uncompressed members)::

    config.json                 what the model is (see below)
    weights/00000.npy ...       model.get_weights(), in order (float32)
    optimizer/0/<name>.npy ...  the optimizer's state arrays (state_dict()),
                                one folder per state entry (one for a model)

``config.json`` holds::

    {"format": "fastmlp.model", "format_version": 1, "fastmlp_version": "...",
     "model": Sequential.get_config(),        # layers, input_shape, seed, name
     "built": bool, "epochs_run": int,        # epochs_run seeds the next shuffle
     "compile": null | {"loss", "metrics", "optimizer": optimizer.get_config()},
     "weights": [{"file", "shape"}, ...],
     "optimizer_state": null | {"iterations": int,
                                "entries": [{"arrays": {name: file}, "scalars": {name: float}}]}}

Nothing is pickled: arrays are ``.npy`` members read back with
``allow_pickle=False``; everything else is JSON (floats round-trip exactly).
A model is written to a temporary file in the destination's folder, flushed
and fsynced, then renamed over the destination, so the path holds either the
old file or the complete new one.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import zipfile

import numpy as np

from ._files import atomic_write

FORMAT = "fastmlp.model"
FORMAT_VERSION = 1
CONFIG_MEMBER = "config.json"
_MAX_CONFIG_BYTES = 64 * 2**20

__all__ = ["FORMAT", "FORMAT_VERSION", "SaveFormatError", "load_model", "save_model"]


class SaveFormatError(ValueError):
    """The file is not a (complete, readable) fastmlp model save."""


# ------------------------------------------------------------------ saving
def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _contents(model) -> tuple[dict, dict[str, bytes]]:
    """(config.json's dict, {member name: .npy bytes}), all checked before any
    file is touched."""
    from . import __version__
    from .optim.serialization import is_serializable

    optimizer = model.optimizer
    compile_config = None
    if model.loss is not None:
        if not is_serializable(optimizer):
            raise ValueError(
                f"cannot save the model: its optimizer's learning rate is a plain callable "
                f"({optimizer.schedule!r}), which cannot be stored in a file. Use a "
                "fastmlp.optim.schedules.LearningRateSchedule (e.g. ExponentialDecay, CosineDecay) instead"
            )
        compile_config = {"loss": model.loss, "metrics": list(model._metrics), "optimizer": optimizer.get_config()}

    arrays: dict[str, bytes] = {}
    weights_index = []
    optimizer_state = None
    if model.built:
        for i, weight in enumerate(model.get_weights()):
            member = f"weights/{i:05d}.npy"
            arrays[member] = _npy_bytes(weight)
            weights_index.append({"file": member, "shape": list(weight.shape)})
        if optimizer is not None:
            state = optimizer.state_dict()
            entries = []
            for i, entry in enumerate(state["state"]):
                files, scalars = {}, {}
                for key, value in entry.items():
                    if isinstance(value, np.ndarray):
                        member = f"optimizer/{i}/{key}.npy"
                        arrays[member] = _npy_bytes(value)
                        files[key] = member
                    else:
                        scalars[key] = float(value)
                entries.append({"arrays": files, "scalars": scalars})
            optimizer_state = {"iterations": int(state["iterations"]), "entries": entries}

    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastmlp_version": __version__,
        "model": model.get_config(),
        "built": bool(model.built),
        "epochs_run": int(model._epochs_run),
        "compile": compile_config,
        "weights": weights_index,
        "optimizer_state": optimizer_state,
    }
    return config, arrays


def save_model(model, path) -> None:
    """Write `model` to `path` (one file, replaced atomically); see the module
    docstring for what it holds. Raises ValueError for a model that cannot be
    stored (an optimizer whose learning rate is a lambda)."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    config, arrays = _contents(model)
    config_bytes = json.dumps(config, indent=1, allow_nan=False).encode("utf-8")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save the model to {path}: it is a directory")
    with atomic_write(path) as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            archive.writestr(CONFIG_MEMBER, config_bytes)
            for member, data in arrays.items():
                archive.writestr(member, data)


# ----------------------------------------------------------------- loading
class _Reader:
    """Reads and checks one save; every problem is a SaveFormatError naming the file."""

    def __init__(self, path: str, archive: zipfile.ZipFile):
        self.path = path
        self.archive = archive
        self.members = {info.filename: info for info in archive.infolist()}

    def error(self, message: str) -> SaveFormatError:
        return SaveFormatError(f"{self.path}: {message}")

    def read(self, member: str, limit: int | None = None) -> bytes:
        info = self.members.get(member) if isinstance(member, str) else None
        if info is None:
            raise self.error(f"corrupt fastmlp model file: the archive lacks {member!r}")
        if limit is not None and info.file_size > limit:
            raise self.error(f"corrupt fastmlp model file: {member} is implausibly large ({info.file_size} bytes)")
        try:
            return self.archive.read(info)  # checks the CRC
        except (
            zipfile.BadZipFile,
            EOFError,
            OSError,
            RuntimeError,
            NotImplementedError,
            ValueError,
            struct.error,
            OverflowError,
            IndexError,
            KeyError,
        ) as exc:
            raise self.error(f"corrupt or truncated fastmlp model file ({member}: {exc})") from None

    def array(self, member: str, shape=None) -> np.ndarray:
        """A float32 array member, checked against its header and `shape`,
        without trusting the header with an allocation."""
        data = self.read(member)
        stream = io.BytesIO(data)
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                header = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except ValueError as exc:
            raise self.error(f"corrupt fastmlp model file: {member} is not a valid .npy array ({exc})") from None
        array_shape, fortran, dtype = header
        if dtype != np.dtype("<f4") or fortran:
            raise self.error(
                f"corrupt fastmlp model file: {member} holds {dtype} "
                f"{'(Fortran order) ' if fortran else ''}values; expected float32"
            )
        if shape is not None and tuple(array_shape) != tuple(shape):
            raise self.error(
                f"corrupt fastmlp model file: {member} has shape {tuple(array_shape)}; config.json says {tuple(shape)}"
            )
        body = data[stream.tell() :]
        count = math.prod(array_shape)
        if len(body) != 4 * count:
            raise self.error(
                f"corrupt or truncated fastmlp model file: {member} has {len(body)} bytes of "
                f"data for {count} float32 values"
            )
        return np.frombuffer(body, dtype="<f4").astype(np.float32).reshape(array_shape)


def _get(reader: _Reader, mapping, key: str, kind, where: str):
    if not isinstance(mapping, dict):
        raise reader.error(f"corrupt fastmlp model file: {where} is not a JSON object")
    if key not in mapping:
        raise reader.error(f"corrupt fastmlp model file: {where} lacks {key!r}")
    value = mapping[key]
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise reader.error(f"corrupt fastmlp model file: {where}[{key!r}] is {value!r}")
    return value


def _read_config(reader: _Reader) -> dict:
    if CONFIG_MEMBER not in reader.members:
        raise reader.error(f"not a fastmlp model file (a zip archive without {CONFIG_MEMBER})")
    raw = reader.read(CONFIG_MEMBER, limit=_MAX_CONFIG_BYTES)
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise reader.error(f"corrupt fastmlp model file: {CONFIG_MEMBER} is not valid JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise reader.error(f"not a fastmlp model file ({CONFIG_MEMBER} does not say format {FORMAT!r})")
    version = _get(reader, config, "format_version", int, CONFIG_MEMBER)
    if version > FORMAT_VERSION:
        written_by = config.get("fastmlp_version")
        raise reader.error(
            f"the file uses fastmlp model format version {version}"
            f"{f' (written by fastmlp {written_by})' if isinstance(written_by, str) else ''}; "
            f"this fastmlp reads versions up to {FORMAT_VERSION}: upgrade fastmlp to load it"
        )
    if version < 1:
        raise reader.error(f"corrupt fastmlp model file: format_version {version}")
    return config


def _build(reader: _Reader, config: dict):
    from . import layers as layers_module
    from . import optim
    from .models import Sequential

    where = CONFIG_MEMBER
    model_config = _get(reader, config, "model", dict, where)
    layer_configs = _get(reader, model_config, "layers", list, "model")
    seed = _get(reader, model_config, "seed", int, "model")
    name = _get(reader, model_config, "name", str, "model")
    input_shape = model_config.get("input_shape")
    if input_shape is not None and not (
        isinstance(input_shape, list)
        and input_shape
        and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in input_shape)
    ):
        raise reader.error(f"corrupt fastmlp model file: model input_shape is {input_shape!r}")
    built = _get(reader, config, "built", bool, where)
    epochs_run = _get(reader, config, "epochs_run", int, where)
    compile_config = config.get("compile")
    if built and input_shape is None:
        raise reader.error("corrupt fastmlp model file: a built model without an input_shape")

    # Everything that can be read is read before the model is assembled.
    weights = []
    if built:
        for i, entry in enumerate(_get(reader, config, "weights", list, where)):
            file = _get(reader, entry, "file", str, f"weights[{i}]")
            shape = _get(reader, entry, "shape", list, f"weights[{i}]")
            weights.append(reader.array(file, shape))
    state = None
    state_config = config.get("optimizer_state")
    if built and compile_config is not None:
        if state_config is None:
            raise reader.error("corrupt fastmlp model file: a compiled, built model without optimizer_state")
        entries = []
        for i, entry in enumerate(_get(reader, state_config, "entries", list, "optimizer_state")):
            files = _get(reader, entry, "arrays", dict, f"optimizer_state entry {i}")
            scalars = _get(reader, entry, "scalars", dict, f"optimizer_state entry {i}")
            loaded = {key: reader.array(file) for key, file in files.items()}
            for key, value in scalars.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise reader.error(f"corrupt fastmlp model file: optimizer scalar {key!r} is {value!r}")
                loaded[key] = float(value)
            entries.append(loaded)
        state = {"iterations": _get(reader, state_config, "iterations", int, "optimizer_state"), "state": entries}

    try:
        layer_list = [layers_module.from_config(c) for c in layer_configs]
        model = Sequential(layer_list, seed=seed, name=name)
        if input_shape is not None:
            if built:
                model.build(tuple(input_shape))
            else:
                model.input_shape = tuple(input_shape)
        if compile_config is not None:
            compile_config = _get(reader, config, "compile", dict, where)
            model.compile(
                optimizer=optim.from_config(_get(reader, compile_config, "optimizer", dict, "compile")),
                loss=_get(reader, compile_config, "loss", str, "compile"),
                metrics=_get(reader, compile_config, "metrics", list, "compile"),
            )
        if built:
            # Into the layers' views directly, as set_weights would, but also
            # for non-finite values (a model saved after diverging).
            targets = [view for layer in model.layers for view in layer.weights]
            if len(targets) != len(weights):
                raise reader.error(
                    f"corrupt fastmlp model file: {len(weights)} weight arrays for a model with {len(targets)}"
                )
            for i, (target, value) in enumerate(zip(targets, weights)):
                if target.shape != value.shape:
                    raise reader.error(
                        f"corrupt fastmlp model file: weight {i} has shape {value.shape}; the model's is {target.shape}"
                    )
            for target, value in zip(targets, weights):
                target[...] = value
            if state is not None:
                model.optimizer.load_state_dict(state)
    except SaveFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise reader.error(f"invalid fastmlp model file: {type(exc).__name__}: {exc}") from None
    model._epochs_run = epochs_run
    return model


def load_model(path):
    """The model ``save_model`` (``model.save``) wrote to `path`: architecture,
    weights, compile settings, optimizer state and epoch count, so predictions
    are identical and ``fit`` continues on the same trajectory.

    Raises FileNotFoundError for a missing file, and SaveFormatError (a
    ValueError) naming the file for anything that is not a complete fastmlp
    model save of a format this version reads."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    with open(path, "rb") as handle:  # FileNotFoundError, IsADirectoryError, PermissionError as they are
        try:
            archive = zipfile.ZipFile(handle)
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            EOFError,
            ValueError,
            OSError,
            NotImplementedError,
            RuntimeError,
            struct.error,
            OverflowError,
            IndexError,
            KeyError,
        ) as exc:
            raise SaveFormatError(
                f"{path}: not a fastmlp model file, or a truncated or corrupt one (not a readable zip archive: {exc})"
            ) from None
        with archive:
            reader = _Reader(path, archive)
            return _build(reader, _read_config(reader))
