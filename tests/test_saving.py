"""model.save / fastmlp.load_model: one file holding the architecture, weights,
compile settings, optimizer state and epoch count; atomic writes; clear errors
for anything that is not a complete fastmlp save; optim.from_config."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import fastmlp
from fastmlp import layers, optim
from fastmlp.layers import Dense
from fastmlp.optim import schedules
from fastmlp.saving import FORMAT_VERSION, SaveFormatError


def problem(n=96, features=10, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x @ rng.normal(size=(features, classes))).argmax(axis=1)
    return x, y


def make_model(optimizer=None, seed=3, compile=True, **kwargs):
    model = fastmlp.Sequential(
        [Dense(12, activation="tanh"), Dense(3, activation="softmax", name="out")],
        input_dim=10,
        seed=seed,
        name="toy",
        **kwargs,
    )
    if compile:
        model.compile(
            optimizer=optimizer if optimizer is not None else optim.keras.SGD(learning_rate=0.1), metrics=["accuracy"]
        )
    return model


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for u, v in zip(wa, wb):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)


def assert_same_optimizer_state(a, b):
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["iterations"] == sb["iterations"] and sa["config"] == sb["config"]
    for ea, eb in zip(sa["state"], sb["state"], strict=True):
        assert ea.keys() == eb.keys()
        for key in ea:
            np.testing.assert_array_equal(ea[key], eb[key], err_msg=key)


@pytest.fixture
def trained(tmp_path):
    """A model trained 2 epochs and saved; (model, path, x, y)."""
    x, y = problem()
    model = make_model(optim.keras.Adam(learning_rate=0.01))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    path = tmp_path / "model.fmlp"
    model.save(path)
    return model, path, x, y


# ------------------------------------------------------------- round trips
def test_round_trip_without_compile(tmp_path):
    x, _ = problem()
    model = make_model(compile=False)
    model.save(tmp_path / "m.fmlp")
    loaded = fastmlp.load_model(tmp_path / "m.fmlp")
    assert loaded.optimizer is None and loaded.loss is None
    assert loaded.get_config() == model.get_config()
    assert loaded.seed == 3 and loaded.name == "toy" and loaded.input_shape == (10,)
    assert [l.name for l in loaded.layers] == ["dense", "out"]
    assert_same_weights(model, loaded)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    with pytest.raises(fastmlp.NotCompiledError):
        loaded.fit(x, np.zeros(len(x), int), verbose=0)


def test_round_trip_with_compile(trained):
    model, path, x, y = trained
    loaded = fastmlp.models.load_model(path)
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.loss == model.loss and loaded._metrics == model._metrics == ["accuracy"]
    assert loaded._epochs_run == 2 and loaded.optimizer.iterations == model.optimizer.iterations == 12
    assert_same_weights(model, loaded)
    assert_same_optimizer_state(model, loaded)
    assert loaded.evaluate(x, y) == model.evaluate(x, y)


def test_predictions_are_bit_identical(trained):
    model, path, x, _ = trained
    x_new = problem(n=300, seed=7)[0]
    loaded = fastmlp.load_model(path)
    for batch_size in (None, 7):
        expected = model.predict(x_new, batch_size=batch_size)
        got = loaded.predict(x_new, batch_size=batch_size)
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()


def test_an_unbuilt_model_round_trips(tmp_path):
    x, y = problem()
    model = fastmlp.Sequential([Dense(12, activation="relu"), Dense(3, activation="softmax")], seed=5)
    model.compile(optimizer=optim.Adam(lr=0.01))
    model.save(tmp_path / "unbuilt")
    loaded = fastmlp.load_model(tmp_path / "unbuilt")
    assert not loaded.built and loaded.input_shape is None and loaded.optimizer.get_config()["name"] == "Adam"
    # built by fit, from the same seed: the same initialization and training
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert_same_weights(model, loaded)


def test_a_model_with_an_input_shape_but_not_yet_built(tmp_path):
    model = fastmlp.Sequential(input_shape=(2, 5), seed=1)
    model.add(Dense(3, activation="softmax"))
    model.save(tmp_path / "m")
    loaded = fastmlp.load_model(tmp_path / "m")
    assert loaded.input_shape == (2, 5) and loaded.built == model.built


def test_saving_again_overwrites(trained, tmp_path):
    model, path, x, y = trained
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.save(path)
    loaded = fastmlp.load_model(path)
    assert loaded._epochs_run == 3
    assert_same_weights(model, loaded)
    assert sorted(os.listdir(tmp_path)) == ["model.fmlp"]


# ------------------------------------------------------ resumed trajectory
RESUMABLE = {
    "keras-sgd-momentum": lambda: optim.keras.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "torch-sgd-momentum": lambda: optim.SGD(lr=0.05, momentum=0.9, weight_decay=1e-3),
    "keras-adam": lambda: optim.keras.Adam(learning_rate=0.01, amsgrad=True, clipnorm=1.0),
    "torch-adam": lambda: optim.Adam(lr=0.01, betas=(0.8, 0.99)),
    "torch-nadam": lambda: optim.NAdam(lr=0.01),  # a scalar state (the momentum product)
    "keras-sgd-schedule": lambda: optim.keras.SGD(
        learning_rate=schedules.ExponentialDecay(0.1, decay_steps=5, decay_rate=0.5), momentum=0.5
    ),
    "torch-adamw-warmup-cosine": lambda: optim.AdamW(
        lr=schedules.LinearWarmup(schedules.CosineDecay(0.02, decay_steps=20), warmup_steps=4)
    ),
}


@pytest.mark.parametrize("make", RESUMABLE.values(), ids=RESUMABLE.keys())
def test_training_resumes_on_the_same_trajectory(make, tmp_path):
    x, y = problem()
    a = make_model(make())
    a.fit(x, y, batch_size=16, epochs=2, verbose=0)
    a.save(tmp_path / "a.fmlp")
    b = fastmlp.load_model(tmp_path / "a.fmlp")
    assert_same_optimizer_state(a, b)
    if isinstance(a.optimizer.schedule, schedules.LearningRateSchedule):
        assert b.optimizer.schedule == a.optimizer.schedule
        assert b.optimizer.learning_rate == a.optimizer.learning_rate
    # shuffled: the same epoch seeds come from the restored seed and epoch count
    a.fit(x, y, batch_size=16, epochs=1, verbose=0)
    b.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert_same_weights(a, b)
    assert_same_optimizer_state(a, b)
    # and the resumed run differs from a fresh one (the state mattered)
    fresh = make_model(make())
    fresh.set_weights(fastmlp.load_model(tmp_path / "a.fmlp").get_weights())
    fresh.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert not np.array_equal(fresh.weights, b.weights)


def test_batch_norm_and_dropout_models_resume_too(tmp_path):
    if not all(hasattr(layers, n) for n in ("BatchNormalization", "Dropout")):
        pytest.skip("this build has no BatchNormalization/Dropout layers")
    x, y = problem()
    a = fastmlp.Sequential(
        [
            Dense(16, activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.25),
            Dense(3, activation="softmax"),
        ],
        input_dim=10,
        seed=11,
    )
    a.compile(optimizer=optim.keras.Adam(learning_rate=0.01))
    a.fit(x, y, batch_size=16, epochs=2, verbose=0)
    a.save(tmp_path / "bn.fmlp")
    b = fastmlp.load_model(tmp_path / "bn.fmlp")
    assert [type(l).__name__ for l in b.layers] == [type(l).__name__ for l in a.layers]
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    a.fit(x, y, batch_size=16, epochs=1, verbose=0)
    b.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert_same_weights(a, b)


def test_a_lambda_learning_rate_cannot_be_saved(tmp_path):
    model = make_model(optim.keras.SGD(learning_rate=lambda step: 0.1 / (1 + step)))
    with pytest.raises(ValueError, match="plain callable.*LearningRateSchedule"):
        model.save(tmp_path / "m.fmlp")
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------- file handling
@pytest.mark.parametrize("name", ["model.fmlp", "model", "model.npz", "model.h5", "my model.v2.keras", ".hidden"])
def test_any_file_name_works(tmp_path, name):
    model = make_model()
    model.save(str(tmp_path / name))
    assert os.listdir(tmp_path) == [name]  # no extension added
    assert_same_weights(model, fastmlp.load_model(str(tmp_path / name)))


def test_the_file_is_an_npz_style_zip_without_pickles(trained):
    _, path, _, _ = trained
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        config = json.loads(archive.read("config.json"))
    assert names[0] == "config.json" and "weights/00000.npy" in names
    assert config["format"] == "fastmlp.model" and config["format_version"] == FORMAT_VERSION
    assert config["epochs_run"] == 2 and config["compile"]["optimizer"]["name"] == "keras.Adam"
    with np.load(path, allow_pickle=False) as npz:  # NumPy reads the arrays without pickle
        assert npz["weights/00000"].shape == (10, 12) and npz["weights/00000"].dtype == np.float32


def test_saving_into_a_missing_folder_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        make_model().save(tmp_path / "missing" / "m.fmlp")
    assert os.listdir(tmp_path) == []


def test_saving_onto_a_directory_fails(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        make_model().save(tmp_path / "d")
    assert os.listdir(tmp_path) == ["d"]


class Boom(Exception):
    pass


def _fail_on_second_member(monkeypatch):
    original = zipfile.ZipFile.writestr
    calls = []

    def writestr(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise Boom("disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)


def _fail_fsync(monkeypatch):
    def fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync)


def _fail_replace(monkeypatch):
    def replace(src, dst):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "replace", replace)


def _interrupt_mid_write(monkeypatch):
    original = zipfile.ZipFile.writestr

    def writestr(self, name, data, *args, **kwargs):
        if name.startswith("optimizer/"):
            raise KeyboardInterrupt
        return original(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)


@pytest.mark.parametrize(
    "inject",
    [_fail_on_second_member, _fail_fsync, _fail_replace, _interrupt_mid_write],
    ids=["write", "fsync", "replace", "interrupt"],
)
def test_a_failed_save_leaves_the_old_file_and_no_temporary(trained, monkeypatch, inject):
    model, path, x, y = trained
    old_bytes = path.read_bytes()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    inject(monkeypatch)
    with pytest.raises((Boom, OSError, KeyboardInterrupt)):
        model.save(path)
    monkeypatch.undo()
    assert os.listdir(path.parent) == [path.name]
    assert path.read_bytes() == old_bytes
    assert fastmlp.load_model(path)._epochs_run == 2


def test_a_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    _fail_on_second_member(monkeypatch)
    with pytest.raises(Boom):
        make_model().save(tmp_path / "m.fmlp")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------ bad files
def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastmlp.load_model(tmp_path / "nope.fmlp")


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, world\n" * 10, bytes(range(256)) * 4, b"PK\x03\x04garbage"],
    ids=["empty", "text", "binary", "zip-magic"],
)
def test_garbage_is_a_clear_error(tmp_path, content):
    path = tmp_path / "garbage.fmlp"
    path.write_bytes(content)
    with pytest.raises(SaveFormatError, match="garbage.fmlp.*not a fastmlp model file"):
        fastmlp.load_model(path)


def test_other_zips_and_npz_files_are_not_saves(tmp_path):
    np.savez(tmp_path / "arrays.npz", a=np.zeros(3))
    with pytest.raises(SaveFormatError, match="arrays.npz.*not a fastmlp model file"):
        fastmlp.load_model(tmp_path / "arrays.npz")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("config.json", json.dumps({"format": "something else"}))
    with pytest.raises(SaveFormatError, match="other.zip.*not a fastmlp model file"):
        fastmlp.load_model(tmp_path / "other.zip")


def test_every_truncation_is_a_clear_error(trained, tmp_path):
    _, path, _, _ = trained
    data = path.read_bytes()
    cut = tmp_path / "cut.fmlp"
    for length in sorted(set(range(0, len(data), max(1, len(data) // 150))) | {len(data) - 1, len(data) - 22}):
        cut.write_bytes(data[:length])
        with pytest.raises(SaveFormatError, match="cut.fmlp"):
            fastmlp.load_model(cut)


def test_corrupted_bytes_never_crash(trained, tmp_path):
    model, path, x, _ = trained
    data = path.read_bytes()
    bad = tmp_path / "bad.fmlp"
    rng = np.random.default_rng(0)
    positions = sorted(set(rng.integers(0, len(data), 150).tolist()) | set(range(len(data) - 120, len(data))))
    errors = 0
    for position in positions:
        corrupted = bytearray(data)
        corrupted[position] ^= 0xFF
        bad.write_bytes(bytes(corrupted))
        try:
            loaded = fastmlp.load_model(bad)
        except SaveFormatError as exc:
            assert "bad.fmlp" in str(exc)
            errors += 1
        else:  # a byte the reader does not depend on (a timestamp): the model must be intact
            np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert errors > len(positions) // 2


def rewrite(path, target, edit_config=None, drop=(), replace=None):
    """Copy the save at `path` to `target`, editing config.json / members."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as archive:
        for name in source.namelist():
            if name in drop:
                continue
            data = source.read(name)
            if name == "config.json" and edit_config is not None:
                config = json.loads(data)
                edit_config(config)
                data = json.dumps(config).encode()
            if replace and name in replace:
                data = replace[name]
            archive.writestr(name, data)
    return target


def _npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: c.pop("model"), "lacks 'model'"),
        (lambda c: c.pop("format_version"), "lacks 'format_version'"),
        (lambda c: c["model"].pop("layers"), "lacks 'layers'"),
        (lambda c: c.pop("epochs_run"), "lacks 'epochs_run'"),
        (lambda c: c["weights"].pop(), "weight arrays"),
        (lambda c: c["weights"][0].update(shape=[10, 13]), "shape"),
        (lambda c: c["model"]["layers"][0].update(units=13), "shape"),
        (lambda c: c["model"]["layers"][0].update(class_name="Conv2D"), "Conv2D"),
        (lambda c: c["model"]["layers"][0].update(activation="gelu"), "gelu"),
        (lambda c: c["model"]["layers"][0].update(bogus=1), "bogus"),
        (lambda c: c["compile"]["optimizer"].update(name="keras.Bogus"), "Bogus"),
        (lambda c: c["compile"]["optimizer"].update(learning_rate=-1.0), "learning_rate"),
        (lambda c: c["compile"].update(loss="hinge"), "hinge"),
        (lambda c: c["optimizer_state"]["entries"][0]["arrays"].pop("momentum"), "momentum"),
        (lambda c: c["optimizer_state"].update(entries=[]), "entries"),
        (lambda c: c.update(model=[]), "model"),
        (lambda c: c.update(format_version=0), "format_version"),
    ],
)
def test_missing_or_inconsistent_config_is_a_clear_error(trained, tmp_path, edit, match):
    _, path, _, _ = trained
    target = rewrite(path, tmp_path / "edited.fmlp", edit_config=edit)
    with pytest.raises(SaveFormatError, match=match) as info:
        fastmlp.load_model(target)
    assert "edited.fmlp" in str(info.value)


def test_a_newer_format_version_asks_for_an_upgrade(trained, tmp_path):
    _, path, _, _ = trained
    target = rewrite(
        path,
        tmp_path / "future.fmlp",
        edit_config=lambda c: c.update(format_version=FORMAT_VERSION + 1, fastmlp_version="9.0"),
    )
    with pytest.raises(SaveFormatError, match=r"future.fmlp.*version 2 \(written by fastmlp 9.0\).*upgrade"):
        fastmlp.load_model(target)


@pytest.mark.parametrize(
    "drop, replace, match",
    [
        (("weights/00001.npy",), None, "lacks 'weights/00001.npy'"),
        (("config.json",), None, "not a fastmlp model file"),
        ((), {"weights/00000.npy": b"not an array"}, "not a valid .npy"),
        ((), {"weights/00000.npy": _npy(np.zeros((10, 12), np.float64))}, "float64"),
        ((), {"weights/00000.npy": _npy(np.zeros((10, 11), np.float32))}, "shape"),
        ((), {"weights/00000.npy": _npy(np.zeros((10, 12), np.float32))[:-8]}, "truncated"),
        ((), {"weights/00000.npy": _npy(np.array([{"a": 1}], dtype=object), allow_pickle=True)}, "object"),
        ((), {"config.json": b"{not json"}, "not valid JSON"),
        ((), {"config.json": b"[1, 2]"}, "not a fastmlp model file"),
    ],
)
def test_missing_or_bad_members_are_clear_errors(trained, tmp_path, drop, replace, match):
    _, path, _, _ = trained
    target = rewrite(path, tmp_path / "members.fmlp", drop=drop, replace=replace)
    with pytest.raises(SaveFormatError, match=match) as info:
        fastmlp.load_model(target)
    assert "members.fmlp" in str(info.value)


def test_save_format_error_is_a_value_error():
    assert issubclass(SaveFormatError, ValueError)


# --------------------------------------------------------- loading twice
def test_loading_twice_gives_independent_models(trained):
    model, path, x, y = trained
    first, second = fastmlp.load_model(path), fastmlp.load_model(path)
    assert first._network is not second._network and first.optimizer is not second.optimizer
    np.testing.assert_array_equal(first.predict(x), second.predict(x))
    first.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert_same_weights(second, fastmlp.load_model(path))  # training one leaves the other alone
    second.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert_same_weights(first, second)


# ----------------------------------------------------------- from_config
@pytest.mark.parametrize("name", sorted(optim.serialization.OPTIMIZER_CLASSES))
def test_every_optimizer_rebuilds_from_its_json_config(name):
    cls = optim.serialization.OPTIMIZER_CLASSES[name]
    opt = cls(**{cls._lr_argument: schedules.StepDecay(0.1, step_size=3)})
    config = json.loads(json.dumps(opt.get_config()))
    rebuilt = optim.from_config(config)
    assert type(rebuilt) is cls and rebuilt.get_config() == opt.get_config()
    assert rebuilt.schedule == opt.schedule
    plain = optim.from_config(json.loads(json.dumps(cls().get_config())))
    assert plain.get_config() == cls().get_config()


def test_from_config_keeps_the_namespaces_apart():
    assert type(optim.from_config(optim.keras.Adam().get_config())) is optim.keras.Adam
    assert type(optim.from_config(optim.Adam().get_config())) is optim.Adam
    assert optim.Adam().get_config()["name"] == "Adam" and optim.keras.Adam().get_config()["name"] == "keras.Adam"


def test_get_config_serializes_a_schedule_and_repr_shows_it():
    schedule = schedules.ExponentialDecay(0.1, 10, 0.5)
    opt = optim.keras.SGD(learning_rate=schedule)
    assert opt.get_config()["learning_rate"] == schedules.serialize(schedule)
    assert "learning_rate=ExponentialDecay(initial_learning_rate=0.1" in repr(opt)


def test_from_config_errors():
    with pytest.raises(ValueError, match="plain callable"):
        optim.from_config(optim.Adam(lr=lambda step: 0.1).get_config())
    with pytest.raises(ValueError, match="unknown optimizer 'Bogus'"):
        optim.from_config({"name": "Bogus", "lr": 0.1})
    with pytest.raises(ValueError, match="invalid keras.SGD config"):
        optim.from_config({"name": "keras.SGD", "learning_rate": 0.1, "betas": (0.9, 0.9)})
    with pytest.raises(ValueError, match="no 'lr'"):
        optim.from_config({"name": "SGD"})


def test_model_get_config():
    config = make_model().get_config()
    assert config == {
        "class_name": "Sequential",
        "name": "toy",
        "seed": 3,
        "input_shape": [10],
        "layers": [
            layers.Dense(12, activation="tanh", name="dense").get_config(),
            layers.Dense(3, activation="softmax", name="out").get_config(),
        ],
    }
    assert all(c["class_name"] == "Dense" for c in config["layers"])
    rebuilt = [layers.from_config(c) for c in config["layers"]]
    assert [l.get_config() for l in rebuilt] == config["layers"]
