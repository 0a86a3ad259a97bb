"""fastmlp.callbacks: hooks called by Sequential.fit, and each Keras-style callback.

Monitored values are made deterministic with a `scripted` LambdaCallback
placed first: it overwrites a key of the epoch's logs, and the callbacks
after it see the same dict."""

import csv
import math
import os
from types import SimpleNamespace

import numpy as np
import pytest

import fastmlp
from fastmlp import callbacks as cb
from fastmlp.layers import Dense


def problem(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    y = (x @ rng.normal(size=(5, 3))).argmax(axis=1)
    return x, y


def model(lr=0.1, seed=0):
    m = fastmlp.Sequential([Dense(8, activation="relu"), Dense(3, activation="softmax")], input_dim=5, seed=seed)
    m.compile(optimizer=fastmlp.optim.keras.SGD(learning_rate=lr), metrics=["accuracy"])
    return m


def fit(m, callbacks, epochs=5, validation=True, **kwargs):
    x, y = problem()
    if validation:
        kwargs.setdefault("validation_data", problem(n=32, seed=1))
    return m.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=callbacks, **kwargs)


def scripted(key, values):
    """A callback that sets logs[key] = values[epoch] at each epoch end."""

    def set_value(epoch, logs):
        logs[key] = values[epoch]

    return cb.LambdaCallback(on_epoch_end=set_value)


def rates_at_epoch_begin(m, seen):
    """Records the optimizer's learning rate at each epoch begin (list `seen`)."""
    return cb.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(m.optimizer.learning_rate))


# ------------------------------------------------------------- fit's hooks
def test_callbacks_must_be_a_list_of_callbacks():
    m = model()
    with pytest.raises(TypeError, match="wrap it in a list"):
        fit(m, cb.TerminateOnNaN())
    with pytest.raises(TypeError, match=r"callbacks\[1\]"):
        fit(m, [cb.TerminateOnNaN(), lambda epoch, logs: None])
    with pytest.raises(TypeError):
        fit(m, "callbacks")
    assert m.optimizer.iterations == 0  # rejected before training
    fit(m, (cb.TerminateOnNaN(),), epochs=1)  # a tuple is fine
    with pytest.raises(TypeError):
        cb.LambdaCallback(on_epoch_end=3)


def test_hooks_run_in_order_with_keras_logs():
    events = []

    def recorder(name):
        return cb.LambdaCallback(
            on_train_begin=lambda logs: events.append((name, "train_begin")),
            on_epoch_begin=lambda epoch, logs: events.append((name, "epoch_begin", epoch)),
            on_epoch_end=lambda epoch, logs: events.append((name, "epoch_end", epoch, sorted(logs))),
            on_train_end=lambda logs: events.append((name, "train_end", sorted(logs))),
        )

    history = fit(model(), [recorder("a"), recorder("b")], epochs=2)
    keys = sorted(["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time"])
    expected = [("a", "train_begin"), ("b", "train_begin")]
    for epoch in range(2):
        expected += [
            ("a", "epoch_begin", epoch),
            ("b", "epoch_begin", epoch),
            ("a", "epoch_end", epoch, keys),
            ("b", "epoch_end", epoch, keys),
        ]
    expected += [("a", "train_end", keys), ("b", "train_end", keys)]
    assert events == expected
    assert sorted(history.history) == keys


def test_callbacks_get_the_model_and_params_and_may_add_to_the_logs():
    class Probe(cb.Callback):
        def on_train_begin(self, logs=None):
            self.seen = (self.model, dict(self.params))

        def on_epoch_end(self, epoch, logs=None):
            logs["double_loss"] = 2 * logs["loss"]

    m, probe = model(), Probe()
    history = fit(m, [probe], epochs=2, validation=False)
    assert probe.seen[0] is m
    assert probe.seen[1] == {"batch_size": 16, "epochs": 2, "samples": 64, "steps": 4, "verbose": 0}
    assert history.history["double_loss"] == [2 * v for v in history.history["loss"]]
    assert history.history["learning_rate"] == [pytest.approx(0.1)] * 2


def test_stop_training_ends_fit_after_the_epoch_and_is_reset_by_the_next_fit():
    m = model()
    ended = []
    stopper = cb.LambdaCallback(
        on_epoch_end=lambda epoch, logs: setattr(m, "stop_training", epoch == 1),
        on_train_end=lambda logs: ended.append(logs["loss"]),
    )
    history = fit(m, [stopper], epochs=5)
    assert history.epoch == [0, 1] and m.stop_training
    assert ended == [history.history["loss"][-1]]
    assert len(fit(m, None, epochs=3).epoch) == 3  # stop_training cleared at the start of fit
    assert len(fit(m, [], epochs=0).epoch) == 0


def test_callback_list_dispatches_to_each():
    calls = []
    callbacks = cb.CallbackList(
        [
            cb.LambdaCallback(on_epoch_end=lambda e, logs: calls.append(("x", e))),
            cb.LambdaCallback(on_epoch_end=lambda e, logs: calls.append(("y", e))),
        ],
        model="m",
        epochs=1,
    )
    assert all(c.model == "m" and c.params == {"epochs": 1} for c in callbacks)
    callbacks.on_train_begin()
    callbacks.on_epoch_end(3)
    assert calls == [("x", 3), ("y", 3)]
    with pytest.raises(TypeError):
        callbacks.append(object())


# ------------------------------------------------------------ EarlyStopping
def test_early_stopping_stops_after_patience_epochs_without_improvement():
    stop = cb.EarlyStopping(patience=2)
    history = fit(model(), [scripted("val_loss", [1.0, 0.8, 0.9, 0.85, 0.7, 0.6]), stop], epochs=6)
    assert history.epoch == [0, 1, 2, 3]  # best at 1, then 2 epochs without improvement
    assert stop.stopped_epoch == 3 and stop.best == 0.8 and stop.best_epoch == 1


def test_early_stopping_min_delta_mode_baseline_and_start_from_epoch():
    # improvements smaller than min_delta do not count
    history = fit(
        model(), [scripted("val_loss", [1.0, 0.95, 0.92, 0.5]), cb.EarlyStopping(min_delta=0.1, patience=1)], epochs=4
    )
    assert len(history.epoch) == 2
    # accuracy is maximized ("auto" infers it; "max" says it)
    for mode in ("auto", "max"):
        history = fit(
            model(),
            [
                scripted("val_accuracy", [0.5, 0.6, 0.55, 0.9]),
                cb.EarlyStopping(monitor="val_accuracy", mode=mode, patience=1),
            ],
            epochs=4,
        )
        assert len(history.epoch) == 3
    # never beating the baseline stops after `patience` epochs
    history = fit(model(), [scripted("val_loss", [0.9] * 4), cb.EarlyStopping(baseline=0.5, patience=2)], epochs=4)
    assert len(history.epoch) == 2  # (3 without the baseline)
    # nothing is monitored before start_from_epoch
    history = fit(
        model(), [scripted("val_loss", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), cb.EarlyStopping(start_from_epoch=3)], epochs=6
    )
    assert len(history.epoch) == 5


def test_early_stopping_monitor_checks():
    with pytest.raises(ValueError, match="mode='max'"):
        cb.EarlyStopping(monitor="learning_rate")
    cb.EarlyStopping(monitor="learning_rate", mode="min")
    with pytest.warns(UserWarning, match="unknown"):
        assert cb.EarlyStopping(mode="sideways").mode == "auto"
    with pytest.warns(UserWarning, match="not available"):
        history = fit(model(), [cb.EarlyStopping(patience=0)], epochs=3, validation=False)
    assert len(history.epoch) == 3


def test_early_stopping_restores_exactly_the_best_epochs_weights():
    m = model()
    snapshots = []
    capture = cb.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(m.get_weights()))
    stop = cb.EarlyStopping(patience=3, restore_best_weights=True)
    history = fit(m, [capture, scripted("val_loss", [1.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99]), stop], epochs=7)
    assert history.epoch == [0, 1, 2, 3, 4]
    for restored, best in zip(m.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(restored, best)
    assert not np.array_equal(m.get_weights()[0], snapshots[-1][0])


def test_early_stopping_restores_the_best_weights_even_without_stopping(capsys):
    m = model()
    snapshots = []
    capture = cb.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(m.get_weights()))
    stop = cb.EarlyStopping(patience=10, restore_best_weights=True, verbose=1)
    fit(m, [capture, scripted("val_loss", [1.0, 0.4, 0.6]), stop], epochs=3)
    for restored, best in zip(m.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(restored, best)
    assert "best epoch: 2" in capsys.readouterr().out


# ---------------------------------------------------------- ReduceLROnPlateau
def test_reduce_lr_on_plateau_multiplies_the_rate_after_patience():
    m, seen = model(lr=0.1), []
    history = fit(
        m,
        [scripted("val_loss", [1.0] * 7), cb.ReduceLROnPlateau(factor=0.5, patience=2), rates_at_epoch_begin(m, seen)],
        epochs=7,
    )
    # no improvement from epoch 1: reductions at the ends of epochs 2, 4 and 6
    assert seen == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert m.optimizer.learning_rate == pytest.approx(0.0125)
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])


def test_reduce_lr_on_plateau_respects_min_lr_and_cooldown():
    m, seen = model(lr=0.1), []
    fit(
        m,
        [
            scripted("val_loss", [1.0] * 5),
            cb.ReduceLROnPlateau(factor=0.5, patience=1, min_lr=0.03),
            rates_at_epoch_begin(m, seen),
        ],
        epochs=5,
    )
    assert seen == pytest.approx([0.1, 0.1, 0.05, 0.03, 0.03])
    assert m.optimizer.learning_rate == pytest.approx(0.03)

    m, seen = model(lr=0.1), []
    fit(
        m,
        [
            scripted("val_loss", [1.0] * 7),
            cb.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2),
            rates_at_epoch_begin(m, seen),
        ],
        epochs=7,
    )
    # reduce at the end of epoch 1, then 2 cooldown epochs before counting again
    assert seen == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125])

    m, seen = model(lr=0.1), []  # improvements (by more than min_delta) reset the wait
    fit(
        m,
        [
            scripted("val_loss", [1.0, 0.9, 0.8, 0.8, 0.7, 0.7]),
            cb.ReduceLROnPlateau(factor=0.5, patience=2),
            rates_at_epoch_begin(m, seen),
        ],
        epochs=6,
    )
    assert seen == pytest.approx([0.1] * 6)


def test_reduce_lr_on_plateau_maximizes_accuracy_and_leaves_a_schedule_alone():
    m, seen = model(lr=0.1), []
    fit(
        m,
        [
            scripted("val_accuracy", [0.5, 0.6, 0.6, 0.7]),
            cb.ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1),
            rates_at_epoch_begin(m, seen),
        ],
        epochs=4,
    )
    assert seen == pytest.approx([0.1, 0.1, 0.1, 0.05])

    scheduled = fastmlp.Sequential([Dense(8, activation="relu"), Dense(3, activation="softmax")], input_dim=5, seed=0)
    schedule = lambda step: 0.1 / (1 + step)  # noqa: E731
    scheduled.compile(optimizer=fastmlp.optim.keras.SGD(learning_rate=schedule))
    with pytest.warns(RuntimeWarning, match="schedule") as caught:
        fit(scheduled, [scripted("val_loss", [1.0] * 5), cb.ReduceLROnPlateau(patience=1)], epochs=5)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1  # warned once
    assert scheduled.optimizer.schedule is schedule
    with pytest.raises(ValueError, match="factor"):
        cb.ReduceLROnPlateau(factor=1.0)


# ------------------------------------------------------ LearningRateScheduler
def test_learning_rate_scheduler_rates_reach_the_optimizer():
    rates = [0.1, 0.02, 0.005]
    a, seen = model(), []
    history = fit(
        a,
        [cb.LearningRateScheduler(lambda epoch: rates[epoch]), rates_at_epoch_begin(a, seen)],
        epochs=3,
        shuffle=False,
    )
    assert seen == pytest.approx(rates)
    assert history.history["learning_rate"] == pytest.approx(rates)
    # the same as setting the rate by hand between one-epoch fits: the kernel used these rates
    b = model()
    for rate in rates:
        b.optimizer.learning_rate = rate
        fit(b, None, epochs=1, shuffle=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_learning_rate_scheduler_two_argument_form_and_checks(capsys):
    m, seen, calls = model(lr=0.1), [], []

    def halve_after_first(epoch, lr):
        calls.append((epoch, lr))
        return lr if epoch == 0 else lr * 0.5

    fit(m, [cb.LearningRateScheduler(halve_after_first, verbose=1), rates_at_epoch_begin(m, seen)], epochs=3)
    assert seen == pytest.approx([0.1, 0.05, 0.025])
    assert [e for e, _ in calls] == [0, 1, 2] and calls[1][1] == pytest.approx(0.1)
    assert "LearningRateScheduler setting learning rate to 0.025" in capsys.readouterr().out

    class Step:
        def __call__(self, epoch, lr):
            return np.float32(0.5) * lr

    m = model(lr=0.1)
    fit(m, [cb.LearningRateScheduler(Step())], epochs=2)
    assert m.optimizer.learning_rate == pytest.approx(0.025)
    with pytest.raises(ValueError, match="should be a float"):
        fit(model(), [cb.LearningRateScheduler(lambda epoch: "fast")], epochs=1)
    with pytest.raises(ValueError, match="> 0"):
        fit(model(), [cb.LearningRateScheduler(lambda epoch: 0.0)], epochs=1)
    with pytest.raises(TypeError):
        cb.LearningRateScheduler(0.1)


# ------------------------------------------------------------ TerminateOnNaN
def test_terminate_on_nan_checks_the_epoch_loss(capsys):
    callback = cb.TerminateOnNaN()
    callback.set_model(SimpleNamespace(stop_training=False))
    callback.on_epoch_end(0, {"loss": 0.5})
    assert not callback.model.stop_training
    for bad in (float("nan"), float("inf")):
        callback.model.stop_training = False
        callback.on_epoch_end(1, {"loss": bad})
        assert callback.model.stop_training
    assert "Epoch 2: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_in_fit(capsys):
    m = model()
    m.optimizer.learning_rate = 1e30
    x, y = problem()
    history = m.fit(x * 1e10, y, batch_size=8, epochs=5, verbose=0, callbacks=[cb.TerminateOnNaN()])
    assert len(history.epoch) < 5 and not math.isfinite(history.history["loss"][-1])
    assert m.stop_training
    assert "Invalid loss" in capsys.readouterr().out


# ----------------------------------------------------------------- CSVLogger
def read_csv(path, separator=","):
    with open(path, newline="") as file:
        return list(csv.reader(file, delimiter=separator))


def test_csv_logger_writes_a_row_per_epoch_and_flushes(tmp_path):
    path = tmp_path / "log.csv"
    lines_at_epoch_end = []
    peek = cb.LambdaCallback(on_epoch_end=lambda epoch, logs: lines_at_epoch_end.append(len(read_csv(path))))
    history = fit(model(), [cb.CSVLogger(path), peek], epochs=3)
    rows = read_csv(path)
    assert rows[0] == ["epoch", "accuracy", "epoch_time", "learning_rate", "loss", "val_accuracy", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2"]
    for key in rows[0][1:]:
        assert [float(row[rows[0].index(key)]) for row in rows[1:]] == history.history[key]
    assert lines_at_epoch_end == [2, 3, 4]  # header + one flushed row per epoch so far


def test_csv_logger_append_and_separator(tmp_path):
    path = tmp_path / "log.csv"
    fit(model(), [cb.CSVLogger(path, separator=";")], epochs=2, validation=False)
    fit(model(), [cb.CSVLogger(path, separator=";", append=True)], epochs=3, validation=False)
    rows = read_csv(path, ";")
    assert rows[0] == ["epoch", "accuracy", "epoch_time", "learning_rate", "loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "0", "1", "2"]
    fit(model(), [cb.CSVLogger(path, separator=";")], epochs=1, validation=False)  # overwrites
    assert len(read_csv(path, ";")) == 2
    fresh = tmp_path / "fresh.csv"
    fit(model(), [cb.CSVLogger(fresh, append=True)], epochs=1, validation=False)  # new file: header
    assert read_csv(fresh)[0][0] == "epoch"


# ------------------------------------------------------------ ModelCheckpoint
def fake_save(saved):
    def save(path):
        saved.append(os.path.basename(path))
        with open(path, "w") as file:
            file.write("model")

    return save


def test_model_checkpoint_formats_file_names(tmp_path, monkeypatch):
    m, saved = model(), []
    monkeypatch.setattr(m, "save", fake_save(saved), raising=False)
    pattern = str(tmp_path / "ckpt" / "m-{epoch:02d}-{val_loss:.4f}.model")
    fit(m, [scripted("val_loss", [0.5, 0.4, 0.6]), cb.ModelCheckpoint(pattern)], epochs=3)
    assert saved == ["m-01-0.5000.model", "m-02-0.4000.model", "m-03-0.6000.model"]
    assert sorted(os.listdir(tmp_path / "ckpt")) == saved  # the folder was created
    with pytest.raises(KeyError, match="Failed to format"):
        fit(m, [cb.ModelCheckpoint(str(tmp_path / "{nope}.model"))], epochs=1)


def test_model_checkpoint_save_best_only(tmp_path, monkeypatch, capsys):
    m, saved = model(), []
    monkeypatch.setattr(m, "save", fake_save(saved), raising=False)
    fit(
        m,
        [
            scripted("val_loss", [0.5, 0.6, 0.4, 0.45]),
            cb.ModelCheckpoint(str(tmp_path / "m-{epoch}.model"), save_best_only=True, verbose=1),
        ],
        epochs=4,
    )
    assert saved == ["m-1.model", "m-3.model"]
    out = capsys.readouterr().out
    assert "val_loss improved from 0.50000 to 0.40000" in out and "did not improve from 0.40000" in out

    saved.clear()
    fit(
        m,
        [
            scripted("val_accuracy", [0.5, 0.7, 0.6, 0.8]),
            cb.ModelCheckpoint(str(tmp_path / "best.model"), monitor="val_accuracy", save_best_only=True),
        ],
        epochs=4,
    )
    assert saved == ["best.model"] * 3  # epochs 1, 2 and 4, overwriting one file
    with pytest.raises(ValueError, match="mode"):
        cb.ModelCheckpoint("x", monitor="epoch_time", save_best_only=True)


def test_model_checkpoint_weights_only_writes_npz_atomically(tmp_path):
    m = model()
    snapshots = []
    capture = cb.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(m.get_weights()))
    fit(m, [capture, cb.ModelCheckpoint(str(tmp_path / "w-{epoch}.weights"), save_weights_only=True)], epochs=2)
    assert sorted(os.listdir(tmp_path)) == ["w-1.weights", "w-2.weights"]  # no .npz added, no temp files
    for epoch in (1, 2):
        with np.load(tmp_path / f"w-{epoch}.weights") as stored:
            arrays = [stored[f"arr_{i}"] for i in range(len(stored.files))]
        for got, expected in zip(arrays, snapshots[epoch - 1]):
            np.testing.assert_array_equal(got, expected)


def test_model_checkpoint_with_the_real_save(tmp_path):
    fit(model(), [cb.ModelCheckpoint(str(tmp_path / "m-{epoch}.fastmlp"))], epochs=2)
    assert len(os.listdir(tmp_path)) >= 2
