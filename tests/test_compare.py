"""`fastmlp compare`: spec parsing, the model, and tiny end-to-end runs on
real MNIST (the first few thousand training images, a 16-unit hidden layer)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

import fastmlp
from fastmlp.cli import main
from fastmlp.compare import (
    CompareConfig,
    SpecError,
    build_model,
    load_dataset,
    parse_optimizer,
    parse_optimizer_list,
    parse_schedule,
    parse_value,
)
from fastmlp.compare import plots as compare_plots
from fastmlp.compare.report import markdown_report, summarize_all

PLOTS = ("val_accuracy.png", "loss.png", "loss_vs_time.png", "learning_rate.png")
HISTORY_KEYS = {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_time"}


# ------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    "text, value",
    [
        ("3e-4", 3e-4),
        ("10", 10),
        ("0.9", 0.9),
        ("true", True),
        ("False", False),
        ("none", None),
        ("0.9/0.99", (0.9, 0.99)),
        ("0.5/", (0.5,)),
        ("10/20/30", (10, 20, 30)),
        ("linear", "linear"),
    ],
)
def test_parse_value(text, value):
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


def test_plain_names_are_the_keras_classes_as_compile_uses():
    spec = parse_optimizer("adam")
    assert spec.cls is fastmlp.optim.keras.Adam is type(fastmlp.optim.get("adam"))
    assert spec.kwargs == {} and spec.text == "adam"
    assert parse_optimizer("RMSprop").cls is fastmlp.optim.keras.RMSprop


@pytest.mark.parametrize(
    "text, cls, config",
    [
        ("keras.Adam:learning_rate=3e-4", fastmlp.optim.keras.Adam, {"learning_rate": 3e-4}),
        ("adam:learning_rate=3e-4,beta_1=0.8", fastmlp.optim.keras.Adam, {"learning_rate": 3e-4, "beta_1": 0.8}),
        ("torch.SGD:lr=0.01,momentum=0.9", fastmlp.optim.SGD, {"lr": 0.01, "momentum": 0.9}),
        ("torch.Adam:betas=0.9/0.99", fastmlp.optim.Adam, {"betas": (0.9, 0.99)}),
        ("Torch.adamw:weight_decay=0.1,amsgrad=true", fastmlp.optim.AdamW, {"weight_decay": 0.1, "amsgrad": True}),
        ("keras.sgd:momentum=0.9,nesterov=true", fastmlp.optim.keras.SGD, {"momentum": 0.9, "nesterov": True}),
        (
            "keras.AdamW:weight_decay=0.01,clipnorm=1",
            fastmlp.optim.keras.AdamW,
            {"weight_decay": 0.01, "clipnorm": 1.0},
        ),
    ],
)
def test_optimizer_specs_build_configured_optimizers(text, cls, config):
    spec = parse_optimizer(text)
    assert spec.cls is cls
    optimizer = spec.build()
    assert isinstance(optimizer, cls)
    built = optimizer.get_config()
    for key, value in config.items():
        assert built[key] == (list(value) if isinstance(value, tuple) and isinstance(built[key], list) else value)
    assert spec.build() is not optimizer  # a fresh optimizer per run


def test_optimizer_list_commas_continue_hyperparameters():
    specs = parse_optimizer_list("sgd,adam:learning_rate=3e-4,beta_1=0.8,torch.SGD:lr=0.01,momentum=0.9,rmsprop")
    assert [s.text for s in specs] == [
        "sgd",
        "adam:learning_rate=3e-4,beta_1=0.8",
        "torch.SGD:lr=0.01,momentum=0.9",
        "rmsprop",
    ]
    assert specs[1].kwargs == {"learning_rate": 3e-4, "beta_1": 0.8}
    assert specs[2].kwargs == {"lr": 0.01, "momentum": 0.9}


@pytest.mark.parametrize(
    "text, message",
    [
        ("nope", "unknown optimizer 'nope'"),
        ("nope", "adam, adamax"),  # lists what exists
        ("radam", "torch.RAdam"),  # only in the PyTorch namespace
        ("keras.RAdam", "torch.RAdam"),
        ("torch.Nope", "torch.SGD"),
        ("adam:lr=0.1", "learning_rate"),  # Keras names
        ("torch.SGD:learning_rate=0.1", "call the learning rate lr"),
        ("adam:bogus=1", "unknown hyperparameter 'bogus'"),
        ("adam:learning_rate=-1", "learning_rate"),  # the optimizer's own validation
        ("adam:learning_rate=abc", "learning_rate must be a number"),
        ("torch.Adam:betas=0.9", "betas"),
        ("torch.Adam:betas=0.9/", "betas"),
        ("adam:learning_rate", "KEY=VALUE"),
        ("adam:", "nothing after ':'"),
        (":learning_rate=1", "no name"),
        ("adam:learning_rate=1,learning_rate=2", "given twice"),
        ("adam:beta_1=0.9//0.9", "malformed tuple"),
        ("sgd,,adam", "empty item"),
        ("learning_rate=0.1,sgd", "starts with a hyperparameter"),
        ("sgd,momentum=0.9", "write sgd:momentum=0.9"),
        ("sgd,adam,sgd", "listed twice"),
    ],
)
def test_bad_optimizer_specs_raise_clear_errors(text, message):
    with pytest.raises(SpecError, match=None) as info:
        parse_optimizer_list(text)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_schedule_specs_scale_each_optimizers_base_rate():
    exponential = parse_schedule("exponential:decay_steps=10,decay_rate=0.5")
    assert exponential(0.1)(0) == pytest.approx(0.1)
    assert exponential(0.1)(10) == pytest.approx(0.05)
    assert exponential(0.002)(20) == pytest.approx(0.0005)
    cosine = parse_schedule("cosine:decay_steps=100,warmup=10")(1.0)
    assert cosine(0) == 0.0 and cosine(5) == pytest.approx(0.5) and cosine(10) == pytest.approx(1.0)
    assert cosine(110) == pytest.approx(0.0)
    warmup = parse_schedule("warmup:steps=4,from=0.1")(1.0)
    assert [warmup(k) for k in (0, 2, 4, 100)] == pytest.approx([0.1, 0.55, 1.0, 1.0])
    multistep = parse_schedule("multistep:milestones=10/20,gamma=0.5")(1.0)
    assert [multistep(k) for k in (9, 10, 20)] == pytest.approx([1.0, 0.5, 0.25])
    assert parse_schedule("step:step_size=5")(1.0)(5) == pytest.approx(0.1)
    assert parse_schedule("onecycle:total_steps=100")(0.01)(29) == pytest.approx(0.01)
    assert parse_schedule("constant")(0.3)(1000) == 0.3


@pytest.mark.parametrize(
    "text, message",
    [
        ("nope", "unknown schedule 'nope'"),
        ("exponential:decay_steps=10", "decay_rate"),  # missing argument
        ("exponential:decay_steps=10,decay_rate=2", "decay_rate"),  # out of range
        ("exponential:decay_steps=0,decay_rate=0.5", "decay_steps"),
        ("cosine:decay_steps=10,bogus=1", "unknown argument 'bogus'"),
        ("cosine:initial_learning_rate=1,decay_steps=10", "comes from each optimizer's learning rate"),
        ("warmup:from=0.1", "steps=N"),
        ("cosine:decay_steps", "KEY=VALUE"),
    ],
)
def test_bad_schedules_raise_clear_errors(text, message):
    with pytest.raises(SpecError) as info:
        parse_schedule(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--optimizers", "nope"], "unknown optimizer"),
        (["--optimizers", "adam:lr=1"], "learning_rate"),
        (["--schedule", "cosine:decay_steps=-1"], "decay_steps"),
        (["--validation", "1.5"], "fraction in (0, 1)"),
        (["--validation", "abc"], "fraction in (0, 1)"),
        (["--hidden", "16,x"], "layer widths"),
        (["--dropout", "1"], "[0, 1)"),
        (["--repeats", "0"], ">= 1"),
    ],
)
def test_bad_command_lines_exit_with_usage(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: fastmlp compare" in err and message in err


def test_help_documents_the_syntax_but_not_limit(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = capsys.readouterr().out
    for text in (
        "--optimizers",
        "torch.Adam:betas=0.9/0.99",
        "keras.CLASS",
        "--schedule",
        "warmup:steps=N",
        "--validation",
        "LAST fraction",
        "FIRST N",
        "--repeats",
        "--dataset",
        "--out",
    ):
        assert text in out
    assert "--limit" not in out


# ----------------------------------------------------------------- model
def test_build_model_default_is_the_reference_mlp():
    model = build_model([300, 100], dropout=0.0, batch_norm=False, l2=0.0, seed=0)
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dense", "Dense"]
    assert [l.units for l in model.layers] == [300, 100, 10]
    assert [l.activation for l in model.layers] == ["relu", "relu", "softmax"]
    assert model.count_params() == 266_610
    again = build_model([300, 100], 0.0, False, 0.0, seed=0)
    assert np.array_equal(model.weights, again.weights)  # the seed fixes the initialization


def test_regularized_layout_follows_reference_002():
    model = build_model([300, 100], dropout=0.2, batch_norm=True, l2=1e-4, seed=0)
    assert [type(l).__name__ for l in model.layers] == ["Dense", "BatchNormalization", "Dense", "Dropout", "Dense"]
    assert model.layers[3].rate == 0.2
    assert model.layers[0].kernel_regularizer.l2 == 1e-4 and model.layers[2].kernel_regularizer is None


# ------------------------------------------------------------------ data
def test_validation_count_takes_the_first_images_and_a_fraction_the_last(mnist_dir):
    (x_raw, y_raw), _ = fastmlp.datasets.mnist.load_data(mnist_dir)
    config = CompareConfig(optimizers=[], data=str(mnist_dir), limit=1000, validation=100)
    (x_train, y_train), (x_val, y_val), (x_test, _) = load_dataset(config)
    assert x_train.dtype == np.float32 and x_train.max() <= 1.0 and len(x_test) == 10_000
    assert len(x_val) == 100 and len(x_train) == 900
    np.testing.assert_array_equal(y_val, y_raw[:100])
    np.testing.assert_allclose(x_val * 255, x_raw[:100], atol=1e-3)
    config.validation = 0.25
    (x_train, y_train), (x_val, y_val), _ = load_dataset(config)
    assert len(x_train) == 750 and len(x_val) == 250
    np.testing.assert_array_equal(y_val, y_raw[750:1000])
    config.validation = 0
    assert load_dataset(config)[1] is None


# ------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def compare_run(mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(
            [
                "compare",
                "--optimizers",
                "sgd,torch.Adam:lr=2e-3,betas=0.9/0.99",
                "--hidden",
                "16",
                "--epochs",
                "2",
                "--repeats",
                "2",
                "--validation",
                "500",
                "--limit",
                "3000",
                "--threads",
                "1",
                "--data",
                str(mnist_dir),
                "--out",
                str(out),
            ]
        )
    return code, out, buffer.getvalue()


def test_compare_writes_results_json(compare_run):
    code, out, _ = compare_run
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["optimizers"] == ["sgd", "torch.Adam:lr=2e-3,betas=0.9/0.99"]
    assert results["config"]["hidden"] == [16] and results["config"]["seeds"] == [0, 1]
    assert results["machine"]["build_info"] == dict(fastmlp.build_info())
    for key in ("cpu", "cpu_identity", "cores", "python", "numpy", "fastmlp", "threads"):
        assert key in results["machine"]
    runs = results["runs"]
    assert len(runs) == 4  # repeats: 2 runs per optimizer, seeds 0 and 1
    for name in ("sgd", "torch.Adam:lr=2e-3,betas=0.9/0.99"):
        assert sorted(r["seed"] for r in runs if r["optimizer"] == name) == [0, 1]
    for run in runs:
        assert set(run["history"]) == HISTORY_KEYS
        assert all(len(v) == 2 for v in run["history"].values())
        assert 0.0 <= run["test_accuracy"] <= 1.0 and run["wall_time"] > 0 and run["cpu_time"] > 0
        assert all(0.0 <= a <= 1.0 for a in run["history"]["val_accuracy"])
    adam = next(r for r in runs if r["optimizer"].startswith("torch.Adam"))
    assert adam["optimizer_config"]["name"] == "Adam" and adam["optimizer_config"]["betas"] == [0.9, 0.99]
    assert adam["history"]["lr"] == [2e-3, 2e-3]
    assert adam["optimizer_state_bytes"] == 8 * adam["trainable_params"] == 8 * 12_730
    sgd = next(r for r in runs if r["optimizer"] == "sgd")
    assert sgd["optimizer_config"]["name"] == "keras.SGD" and sgd["optimizer_state_bytes"] == 0
    assert sgd["test_accuracy"] > 0.5  # it learned something
    # the same seed gives the same run: seed 0 and seed 1 differ, repeats are not copies
    assert runs[0]["history"]["loss"] != runs[2]["history"]["loss"]


def test_compare_writes_long_history_csv(compare_run):
    _, out, _ = compare_run
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert set(rows[0]) == {"optimizer", "seed", "epoch", "metric", "value"}
    assert len(rows) == 4 * 2 * len(HISTORY_KEYS)  # runs x epochs x metrics
    assert {r["metric"] for r in rows} == HISTORY_KEYS
    results = json.loads((out / "results.json").read_text())
    row = next(
        r
        for r in rows
        if r["optimizer"] == "sgd" and r["seed"] == "1" and r["epoch"] == "2" and r["metric"] == "val_accuracy"
    )
    run = next(r for r in results["runs"] if r["optimizer"] == "sgd" and r["seed"] == 1)
    assert float(row["value"]) == run["history"]["val_accuracy"][1]


def test_compare_report_has_the_table_sections_and_plot_links(compare_run):
    _, out, console = compare_run
    report = (out / "report.md").read_text()
    assert "| optimizer | test accuracy | final val accuracy | epochs to 97% val | seconds to 97% val |" in report
    assert "| `sgd` |" in report and "| `torch.Adam:lr=2e-3,betas=0.9/0.99` |" in report
    assert " ± " in report  # mean ± std over the two seeds
    for section in (
        "## Convergence speed",
        "## Stability",
        "## Generalization",
        "## Computational efficiency",
        "## Hyperparameter sensitivity",
    ):
        assert section in report
    assert "Reference 000" not in report  # not reference 000's setup
    if compare_plots.matplotlib_available():
        for name in PLOTS:
            assert f"]({name})" in report
            assert (out / name).stat().st_size > 10_000
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # console: a progress line per run, then the table
    lines = console.splitlines()
    progress = [l for l in lines if l.startswith("[")]
    assert len(progress) == 4 and "test accuracy" in progress[0] and progress[0].rstrip().endswith("s)")
    assert any(l.startswith("optimizer") and "test accuracy" in l for l in lines)


def test_without_matplotlib_plots_are_skipped_with_one_line(mnist_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(compare_plots, "matplotlib_available", lambda: False)
    code = main(
        [
            "compare",
            "--optimizers",
            "sgd",
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--validation",
            "0.2",
            "--limit",
            "1000",
            "--data",
            str(mnist_dir),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert [l for l in out.splitlines() if "pip install fastmlp[plot]" in l] != []
    assert not any((tmp_path / name).exists() for name in PLOTS)
    assert "pip install fastmlp[plot]" in (tmp_path / "report.md").read_text()
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["validation"] == 0.2


def test_schedule_sets_the_learning_rate_after_each_epoch(mnist_dir, tmp_path, capsys):
    code = main(
        [
            "compare",
            "--optimizers",
            "adam,torch.SGD:lr=0.1",
            "--hidden",
            "8",
            "--epochs",
            "2",
            "--batch-size",
            "100",
            "--validation",
            "200",
            "--limit",
            "1200",
            "--no-plots",
            "--schedule",
            "exponential:decay_steps=10,decay_rate=0.5",
            "--data",
            str(mnist_dir),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    steps = 10  # 1000 training images / batch 100
    for run, base in zip(results["runs"], (0.001, 0.1)):
        assert run["initial_lr"] == pytest.approx(base)
        assert run["history"]["lr"] == pytest.approx([base * 0.5 ** (steps * e / 10) for e in (1, 2)])


# ------------------------------------------------------- report wording
def _fake_run(name, seed, val_acc, epoch_time=1.0, state=0):
    n = len(val_acc)
    return {
        "optimizer": name,
        "optimizer_config": {"name": name},
        "seed": seed,
        "initial_lr": 0.01,
        "history": {
            "loss": [1.0 / (e + 1) for e in range(n)],
            "accuracy": [a + 0.01 for a in val_acc],
            "val_loss": [1.0 / (e + 2) for e in range(n)],
            "val_accuracy": list(val_acc),
            "lr": [0.01] * n,
            "epoch_time": [epoch_time] * n,
        },
        "test_loss": 0.1,
        "test_accuracy": val_acc[-1],
        "optimizer_state_bytes": state,
        "params": 100,
        "trainable_params": 100,
        "wall_time": n * epoch_time,
    }


def test_report_sentences_come_from_the_measurements():
    config = {
        "optimizers": ["sgd", "adam", "rmsprop"],
        "epochs": 3,
        "batch_size": 32,
        "hidden": [300, 100],
        "dropout": 0.0,
        "batch_norm": False,
        "l2": 0.0,
        "schedule": None,
        "repeats": 1,
        "seeds": [0],
        "validation": 5000,
        "target_accuracy": 0.97,
        "dataset": "mnist",
        "limit": None,
    }
    machine = {
        "cpu": "test cpu",
        "cores": 64,
        "usable_cores": 64,
        "threads": 4,
        "fastmlp": "0",
        "build_info": {},
        "load_average_start": [0.1, 0.1, 0.1],
    }
    results = {
        "config": config,
        "machine": machine,
        "runs": [
            _fake_run("sgd", 0, [0.90, 0.93, 0.95], epoch_time=1.0),
            _fake_run("adam", 0, [0.971, 0.975, 0.98], epoch_time=2.5, state=800),
            _fake_run("rmsprop", 0, [0.96, 0.972, 0.978], epoch_time=1.5, state=400),
        ],
    }
    report = markdown_report(results, [("Validation accuracy per epoch", "val_accuracy.png")])
    assert (
        "`adam` reached 97% validation accuracy first, after 1 epoch (2.5 s); `rmsprop` after 2 epochs (3.0 s)"
        in report
    )
    assert "`sgd` did not reach 97% within 3 epochs (best validation accuracy 0.9500)" in report
    assert "| `sgd` | 0.9500 | 0.9500 | — | — | +0.0100 | 1.00 | 0 |" in report
    assert "| `adam` | 0.9800 | 0.9800 | 1 | 2.5 | +0.0100 | 2.50 | 8 |" in report
    assert "![Validation accuracy per epoch](val_accuracy.png)" in report
    assert "`adam` took 2.50x as long as `sgd`" in report
    assert "competing" not in report  # no other process was running
    summaries = summarize_all(results)
    assert [s["state_bytes_per_param"] for s in summaries] == [0, 8, 4]
    results["runs"][1]["other_runnable"] = [0, 63]  # another process started during the run
    report = markdown_report(results, [])
    assert "Other processes were competing for the 64 cores during 1 of 3 runs (`adam` seed 0)" in report
    results["runs"].append(_fake_run("adam:learning_rate=3e-4", 0, [0.95, 0.96, 0.965]))
    results["runs"][-1]["optimizer_config"]["name"] = "adam"
    results["config"]["optimizers"].append("adam:learning_rate=3e-4")
    report = markdown_report(results, [])
    assert (
        "adam ran with 2 settings: test accuracy from 0.9650 (`adam:learning_rate=3e-4`) to 0.9800 (`adam`)" in report
    )
    assert not any(math.isnan(s["test_accuracy"][0]) for s in summarize_all(results))
