"""`fastmlp train` on real MNIST, and its argument errors."""

import subprocess
import sys

import pytest

from fastmlp.cli import main


def test_train_prints_epochs_and_test_accuracy(mnist_dir, capsys):
    code = main(
        [
            "train",
            "--data",
            str(mnist_dir),
            "--hidden",
            "32",
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--lr",
            "0.1",
            "--seed",
            "1",
            "--threads",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "MLP 784-32-10 (25,450 parameters)" in out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "val_accuracy" in out
    accuracy = float(out.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.9


def test_module_entry_point_shows_help():
    result = subprocess.run(
        [sys.executable, "-m", "fastmlp", "train", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for option in ("--data", "--hidden", "--optimizer", "--lr", "--epochs", "--batch-size", "--seed"):
        assert option in result.stdout


@pytest.mark.parametrize(
    "args",
    [["--hidden", "300,abc"], ["--hidden", "0"], ["--batch-size", "0"], ["--optimizer", "nope"], ["--epochs", "-1"]],
)
def test_bad_arguments_exit_with_usage(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *args])
    assert exit_info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_errors_become_one_line_messages(tmp_path, capsys, monkeypatch):
    assert main(["train", "--lr", "-1"]) == 1
    assert "learning_rate" in capsys.readouterr().err
    # missing files and no reachable mirror: a message, not a traceback
    monkeypatch.setenv("FASTMLP_MNIST_MIRROR", "http://127.0.0.1:9/")
    assert main(["train", "--data", str(tmp_path), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "fastmlp: error:" in err and str(tmp_path) in err and "Traceback" not in err
