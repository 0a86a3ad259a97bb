"""fit(verbose=1)'s progress bar: drawn from the C++ loop's progress calls."""

import io

import numpy as np
import pytest

import fastmlp
from fastmlp import progress
from fastmlp.layers import Dense


def test_bar_draws_running_metrics_and_finishes_with_the_summary():
    stream = io.StringIO()
    bar = progress.ProgressBar(1, 5, with_accuracy=True, stream=stream)
    bar(10.0, 30, 40, 4, 10)
    bar(20.0, 70, 80, 10, 10)
    bar.finish("Epoch 2/5 - done")
    text = stream.getvalue()
    assert text.startswith("\rEpoch 2/5 [")
    assert "4/10" in text and "loss: 0.2500" in text and "accuracy: 0.7500" in text
    assert "10/10" in text and "[" + "=" * 30 + "]" in text
    assert text.endswith("Epoch 2/5 - done" + " " * (len(text.split("\r")[2]) - len("Epoch 2/5 - done")) + "\n")


def test_fit_reports_progress_from_inside_the_epoch(monkeypatch, capsys):
    monkeypatch.setattr(progress, "interactive", lambda stream: True)
    monkeypatch.setattr(progress, "INTERVAL", 0.0)  # every step
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=100)
    model = fastmlp.Sequential([Dense(3, activation="softmax")], input_dim=4, seed=0)
    model.compile(metrics=["accuracy"])
    model.fit(x, y, batch_size=10, epochs=2, verbose=1)
    out = capsys.readouterr().out
    for step in range(1, 11):
        assert f" {step}/10 " in out
    assert out.count("\n") == 2  # one finished line per epoch


def test_no_bar_when_not_interactive_or_quiet(capsys):
    x = np.zeros((20, 4), np.float32)
    y = np.zeros(20, int)
    model = fastmlp.Sequential([Dense(3, activation="softmax")], input_dim=4, seed=0)
    model.compile()
    model.fit(x, y, batch_size=5, epochs=1, verbose=1)  # captured stdout is not a terminal
    assert "\r" not in capsys.readouterr().out
    model.fit(x, y, batch_size=5, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_an_error_in_the_progress_callback_ends_the_epoch_cleanly():
    model = fastmlp.Sequential([Dense(3, activation="softmax")], input_dim=4, seed=0)
    model.compile()
    x = np.zeros((20, 4), np.float32)
    y = np.zeros(20, np.int32)

    def broken(*args):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        model._network.train_epoch(x, y, 5, True, 0, None, broken, 0.0)
    model.fit(x, y, epochs=1, verbose=0)  # the network is usable afterwards
