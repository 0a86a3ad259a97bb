"""fastmlp.optim against torch.optim itself, when PyTorch is installed
(.ci/run installs the CPU build; elsewhere these tests are skipped).

Both run in float32 from the same start with the same gradients, so they
differ only by rounding order: we require agreement to 2e-6 relative to the
distance travelled plus 1e-6 of the value, over 50 steps. The NumPy float64
references in test_optim_torch.py pin the rules themselves."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastmlp  # noqa: E402

CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "maximize": True}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01, "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.01}),
    ("NAdam", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.01, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.01}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.01, "decoupled_weight_decay": True}),
    ("Adadelta", {"lr": 1.0, "weight_decay": 0.01}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch_optim(name, kwargs):
    rng = np.random.default_rng(0)
    start = [rng.normal(size=(37, 11)).astype(np.float32), rng.normal(size=11).astype(np.float32)]
    ours = [a.copy() for a in start]
    theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in start]
    fast = getattr(fastmlp.optim, name)(ours, **kwargs)
    reference = getattr(torch.optim, name)(theirs, foreach=False, **kwargs)
    travelled = [np.zeros_like(a) for a in start]
    for _ in range(50):
        grads = [
            (np.sign(rng.normal(size=a.shape)) * 10 ** rng.uniform(-7, 0, a.shape)).astype(np.float32) for a in start
        ]
        before = [t.detach().numpy().copy() for t in theirs]
        for t, g in zip(theirs, grads):
            t.grad = torch.from_numpy(g.copy())
        reference.step()
        fast.step(grads)
        for k, t in enumerate(theirs):
            travelled[k] += np.abs(t.detach().numpy() - before[k])
    for mine, t, path in zip(ours, theirs, travelled):
        expected = t.detach().numpy()
        np.testing.assert_array_less(np.abs(mine - expected), 2e-6 * path + 1e-6 * np.abs(expected) + 1e-12)


def test_updates_a_torch_tensor_in_place_through_numpy():
    weight = torch.ones(4, 3)
    optimizer = fastmlp.optim.SGD([weight.numpy()], lr=0.5)
    optimizer.step([np.full((4, 3), 2.0, np.float32)])
    assert torch.equal(weight, torch.zeros(4, 3))
