"""At batch 1 inside train_epoch, RMSprop (without momentum or centering),
Adagrad and Adam (without amsgrad) leave the first layer's kernel rows of
zero pixels out of the update and count their steps: a +0 gradient leaves
those weights as they are and only decays (RMSprop, Adam's v) or keeps
(Adagrad) the state, and each row's count is applied, step by step in the
rule's own rounding, before the row is next updated and before the call
reports or returns (Network::plan_update, Network::defer_zero_rows,
Optimizer::catch_up_zero_steps). A row is deferred only if its weights and
state passed a check after their last update (Optimizer::zero_steps_keep_params);
under Adam that needs m settled: either a zero step leaves it as it is and
its step to p rounds to 0 (once m is near the smallest float), or m is so
small against p that every step to come rounds away against p, and m's
decay is replayed with v's.

The reference is the same model with deferral turned off
(`_network.defer_zero_steps = False`): weights and optimizer state must be
the same bits, NaNs included."""

import numpy as np
import pytest

import fastmlp
from fastmlp.layers import Dense

optim, keras = fastmlp.optim, fastmlp.optim.keras

DEFERRING = {
    "keras rmsprop": lambda: "rmsprop",
    "torch rmsprop": lambda: optim.RMSprop(lr=1e-3),
    "keras rmsprop schedule": lambda: keras.RMSprop(
        learning_rate=fastmlp.optim.schedules.ExponentialDecay(1e-3, decay_steps=5, decay_rate=0.5)),
    "keras adagrad": lambda: "adagrad",
    "torch adagrad lr_decay": lambda: optim.Adagrad(lr=0.01, lr_decay=0.01),
    "keras adam": lambda: "adam",
    "torch adam": lambda: optim.Adam(lr=1e-3),
    # beta_1 = 0.5: m settles within tens of steps, so lit rows get deferred too
    "keras adam fast m": lambda: keras.Adam(beta_1=0.5),
    "torch adam fast m": lambda: optim.Adam(lr=1e-3, betas=(0.5, 0.999)),
    # a learning rate that grows: the check bounds the steps to come, not this one
    "keras adam growing schedule": lambda: keras.Adam(
        beta_1=0.5, learning_rate=fastmlp.optim.schedules.LinearWarmup(0.05, warmup_steps=200, initial_learning_rate=1e-6)),
}
NOT_DEFERRING = {
    "keras adam amsgrad": lambda: keras.Adam(amsgrad=True),
    "torch adamw": lambda: optim.AdamW(lr=1e-3),
    "keras nadam": lambda: "nadam",
    "keras rmsprop momentum": lambda: keras.RMSprop(momentum=0.9),
    "torch rmsprop centered": lambda: optim.RMSprop(lr=1e-3, centered=True),
    "keras rmsprop clipvalue": lambda: keras.RMSprop(clipvalue=0.01),
    "torch rmsprop maximize": lambda: optim.RMSprop(lr=1e-3, maximize=True),
    "torch rmsprop weight decay": lambda: optim.RMSprop(lr=1e-3, weight_decay=1e-3),
}


def pixels(rows, seed=0):
    """MNIST-like rows: a fifth of the 784 features lit, in a band that moves,
    so some rows stay unused for many steps; every seventh row lit on 290 of
    the band's 300 (above the density where the first layer takes the sparse
    product); labels for 10 classes."""
    rng = np.random.default_rng(seed)
    x = np.zeros((rows, 784), np.float32)
    for i, row in enumerate(x):
        centre = 200 + (i * 37) % 400
        count = 290 if i % 7 == 3 else 150
        lit = rng.choice(np.arange(centre - 150, centre + 150), count, replace=False)
        row[lit] = rng.random(count).astype(np.float32)
    y = rng.integers(0, 10, size=rows).astype(np.int32)
    return x, y


def twins(factory, threads=1):
    fastmlp.set_num_threads(threads)
    models = []
    for defer in (True, False):
        m = fastmlp.Sequential([Dense(32, activation="relu"), Dense(16, activation="relu"),
                                Dense(10, activation="softmax")], input_dim=784, seed=3)
        m.compile(optimizer=factory(), loss="sparse_categorical_crossentropy")
        m.build((784,))
        m._network.defer_zero_steps = defer
        models.append(m)
    return models


def state_bits(model):
    state = model.optimizer.state_dict()
    return {name: np.asarray(value).view(np.uint32) for entry in state["state"]
            for name, value in entry.items() if isinstance(value, np.ndarray)}, state["iterations"]


def assert_same_bits(deferred, reference):
    np.testing.assert_array_equal(deferred.weights.view(np.uint32), reference.weights.view(np.uint32))
    (a, ia), (b, ib) = state_bits(deferred), state_bits(reference)
    assert ia == ib and a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.fixture(autouse=True)
def restore_threads_and_modes():
    threads = fastmlp.get_num_threads()
    yield
    fastmlp.set_num_threads(threads)
    fastmlp.set_flush_denormals(False)


@pytest.mark.parametrize("flush", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("optimizer", sorted(DEFERRING))
def test_deferred_steps_give_the_same_bits(optimizer, threads, flush):
    fastmlp.set_flush_denormals(flush)
    deferred, reference = twins(DEFERRING[optimizer], threads)
    x, y = pixels(120)
    for epoch in range(2):  # the second call starts from the first one's caught-up state
        for m in (deferred, reference):
            m.fit(x, y, batch_size=1, epochs=1, verbose=0, shuffle=True)
        assert deferred._network.deferred_row_steps > 0
        assert reference._network.deferred_row_steps == 0
        assert_same_bits(deferred, reference)


@pytest.mark.parametrize("optimizer", sorted(NOT_DEFERRING))
def test_other_rules_and_options_defer_nothing(optimizer):
    deferred, reference = twins(NOT_DEFERRING[optimizer])
    x, y = pixels(40)
    for m in (deferred, reference):
        m.fit(x, y, batch_size=1, epochs=1, verbose=0)
    assert deferred._network.deferred_row_steps == 0
    assert_same_bits(deferred, reference)


@pytest.mark.parametrize("flush", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("optimizer", ["keras adam fast m", "torch adam fast m"])
def test_adam_defers_the_rows_of_pixels_lit_long_ago(optimizer, threads, flush):
    # Pixels [0, 200) light in the first 30 rows only, [400, 600) in all the
    # others, the rest never. The never-lit rows can be deferred from their
    # first update on; more deferred steps than those could give means rows
    # of the first band settled after their last lit step and were deferred.
    fastmlp.set_flush_denormals(flush)
    rng = np.random.default_rng(5)
    n = 300
    x = np.zeros((n, 784), np.float32)
    for i, row in enumerate(x):
        band = np.arange(0, 200) if i < 30 else np.arange(400, 600)
        row[rng.choice(band, 100, replace=False)] = rng.random(100).astype(np.float32) + 0.1
    y = rng.integers(0, 10, size=n).astype(np.int32)
    deferred, reference = twins(DEFERRING[optimizer], threads)
    for m in (deferred, reference):
        m.fit(x, y, batch_size=1, epochs=1, verbose=0, shuffle=False)
    never_lit = 784 - 400
    assert deferred._network.deferred_row_steps > never_lit * n + 50 * 100
    assert_same_bits(deferred, reference)


def test_larger_batches_and_single_steps_defer_nothing():
    deferred, reference = twins(DEFERRING["keras rmsprop"])
    x, y = pixels(64)
    for m in (deferred, reference):
        m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert deferred._network.deferred_row_steps == 0
    for m in (deferred, reference):
        for i in range(4):  # train_on_batch: one step per call, nothing can be left pending
            m.train_on_batch(x[i:i + 1], y[i:i + 1])
    assert deferred._network.last_step_direct
    assert_same_bits(deferred, reference)


@pytest.mark.parametrize("bad", [1e20, 1e30, 3e38])
@pytest.mark.parametrize("optimizer", ["keras rmsprop", "torch rmsprop", "keras adagrad"])
def test_rows_that_overflow_or_turn_nan_are_not_deferred(optimizer, bad):
    # A huge pixel in one image mid-epoch overflows that step's products and
    # gradients: kernel rows and state turn inf or NaN. On later steps, where
    # their pixels are 0, the full update turns or keeps such weights NaN,
    # which a deferred row would not.
    deferred, reference = twins(DEFERRING[optimizer])
    x, y = pixels(60)
    x[20, 5] = bad
    x[20, 700] = -bad
    for m in (deferred, reference):
        with np.errstate(all="ignore"):
            m.fit(x, y, batch_size=1, epochs=1, verbose=0, shuffle=False)
    assert deferred._network.deferred_row_steps > 0
    assert_same_bits(deferred, reference)


def test_odd_weights_set_between_calls_are_vetted_again():
    deferred, reference = twins(DEFERRING["keras rmsprop"])
    x, y = pixels(60)
    for m in (deferred, reference):
        m.fit(x[:30], y[:30], batch_size=1, epochs=1, verbose=0)
    for m in (deferred, reference):
        kernel = m._network.layer_params(0)[0]
        kernel[0] = -0.0
        kernel[1] = np.float32(1e-40)  # subnormal
        kernel[2] = np.inf
        kernel[3] = np.nan
        with np.errstate(all="ignore"):
            m.fit(x[30:], y[30:], batch_size=1, epochs=1, verbose=0)
    assert_same_bits(deferred, reference)


def test_a_report_during_the_epoch_sees_caught_up_state():
    deferred, reference = twins(DEFERRING["keras rmsprop"])
    x, y = pixels(50)
    for m in (deferred, reference):
        m.fit(x[:1], y[:1], batch_size=1, epochs=1, verbose=0)  # builds the optimizer state
    seen = {}

    def report(model, name):
        # An interval longer than the epoch: the only report is the one after
        # the last step, which train_epoch makes before it returns.
        def callback(*progress):
            seen[name] = state_bits(model)[0]
        return callback

    for name, m in (("deferred", deferred), ("reference", reference)):
        m._network.train_epoch(x, y, 1, False, 0, None, report(m, name), 1e9)
    assert deferred._network.deferred_row_steps > 0
    for key in seen["reference"]:
        np.testing.assert_array_equal(seen["deferred"][key], seen["reference"][key], err_msg=key)
    assert_same_bits(deferred, reference)


def test_deferral_is_on_by_default_and_can_be_turned_off():
    m = fastmlp.Sequential([Dense(10, activation="softmax")], input_dim=784)
    m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    m.build((784,))
    assert m._network.defer_zero_steps is True
    m._network.defer_zero_steps = False
    assert m._network.defer_zero_steps is False


KERNELS = {
    "keras rmsprop": lambda: fastmlp._core.KerasRMSprop(),
    "torch rmsprop": lambda: fastmlp._core.TorchRMSprop(),
    "keras adagrad": lambda: fastmlp._core.KerasAdagrad(),
    "torch adagrad": lambda: fastmlp._core.TorchAdagrad(),
}
TINY = np.float32(1e-40)  # subnormal
NORMAL_MIN = np.finfo(np.float32).tiny  # the smallest normal float
SUBNORMAL_MAX = np.nextafter(NORMAL_MIN, np.float32(0))
FLOAT_MAX = np.finfo(np.float32).max
PARAMS = np.array([0.5, -3.0, 0.0, -0.0, TINY, -TINY, np.inf, -np.inf, np.nan, 3e38,
                   NORMAL_MIN, -NORMAL_MIN, SUBNORMAL_MAX, -SUBNORMAL_MAX, FLOAT_MAX, -FLOAT_MAX], np.float32)
STATES = np.array([0.0, -0.0, 0.25, 1e-38, TINY, 3e38, np.inf, np.nan, -1e-3, -TINY,
                   FLOAT_MAX, -NORMAL_MIN, SUBNORMAL_MAX, -FLOAT_MAX], np.float32)


def assert_real_steps_match_the_catch_up(real, deferred, p, states=(0,)):
    """1, 2 and then 40 real steps with a +0 gradient on `real` leave the
    one parameter p at its bits, and give each of its `states` the bits
    deferred.catch_up_zero_steps gives."""
    start = p.copy()
    with np.errstate(all="ignore"):
        for steps in (1, 2, 40):
            for _ in range(steps):
                real.step(p, np.zeros(1, np.float32))
            deferred.catch_up_zero_steps(steps)
            at = (start[0], [real.state(i)[0] for i in states], steps)
            assert p.view(np.uint32)[0] == start.view(np.uint32)[0], at
            for i in states:
                assert real.state(i).view(np.uint32)[0] == deferred.state(i).view(np.uint32)[0], at


@pytest.mark.parametrize("flush", [False, True])
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_the_check_and_the_catch_up_against_real_zero_gradient_steps(kernel, flush):
    # Every (parameter, state) pair alone: where zero_steps_keep_params accepts
    # it, k real steps with a +0 gradient leave the parameter's bits as they
    # are and give the state catch_up_zero_steps(k) gives.
    fastmlp.set_flush_denormals(flush)
    accepted = set()
    for p0 in PARAMS:
        for s0 in STATES:
            real, deferred = KERNELS[kernel](), KERNELS[kernel]()
            for k in (real, deferred):
                k.learning_rate = 0.01
                k.bind(1)
                k.state(0)[0] = s0
            p = np.array([p0], np.float32)
            if not deferred.zero_steps_keep_params(p):
                continue
            accepted.add((int(np.float32(p0).view(np.uint32)), int(np.float32(s0).view(np.uint32))))
            assert_real_steps_match_the_catch_up(real, deferred, p)
    bits = lambda values: {int(v) for v in np.asarray(values, np.float32).view(np.uint32)}  # noqa: E731
    # Accepted: +0 and finite normal parameters, with any finite state >= 0 (-0 included).
    kept_params = bits([0.5, -3.0, 0.0, 3e38, NORMAL_MIN, -NORMAL_MIN, FLOAT_MAX, -FLOAT_MAX])
    kept_states = bits([0.0, -0.0, 0.25, 1e-38, TINY, 3e38, FLOAT_MAX, SUBNORMAL_MAX])
    assert accepted == {(p, s) for p in kept_params for s in kept_states}


def _kernel_with_rate(kernel, rate):
    """The kernel, with RMSprop's decay rate set to `rate` (None: Adagrad, which has none)."""
    k = KERNELS[kernel]()
    if rate is not None:
        setattr(k, "rho" if kernel.startswith("keras") else "alpha", rate)
    return k


RATED_KERNELS = [(kernel, rate) for kernel in sorted(KERNELS)
                 for rate in ((0.9, 0.5, 0.0, 1.0) if "rmsprop" in kernel else (None,))]


@pytest.mark.parametrize("flush", [False, True])
@pytest.mark.parametrize("kernel, rate", RATED_KERNELS)
def test_the_catch_up_of_a_long_stretch_against_real_steps(kernel, rate, flush):
    # A stretch longer than a register block (20 vectors of 16, then a block
    # of 3) of states the check accepts (finite, >= 0, -0 included) that
    # settle early or late, subnormals among them; from one step to long past
    # every value's fixed point, with step counts on either side of the
    # fixed-point tests (every 8 steps after the first).
    fastmlp.set_flush_denormals(flush)
    rng = np.random.default_rng(0)
    state = np.concatenate([np.float32(10.0) ** rng.uniform(-45, 38, 352).astype(np.float32),
                            [0.0, -0.0, 1e-38, 3e38, TINY, -0.0, 0.0, 1.0]]).astype(np.float32)
    rng.shuffle(state)
    n = len(state)
    for steps in (1, 2, 8, 9, 10, 17, 64, 300, 2000):
        real, deferred = _kernel_with_rate(kernel, rate), _kernel_with_rate(kernel, rate)
        for k in (real, deferred):
            k.learning_rate = 0.01
            k.bind(n)
            k.state(0)[:] = state
        p = np.zeros(n, np.float32)
        with np.errstate(all="ignore"):
            for _ in range(steps):
                real.step(p, np.zeros(n, np.float32))
            deferred.catch_up_zero_steps(steps)
        np.testing.assert_array_equal(real.state(0).view(np.uint32), deferred.state(0).view(np.uint32),
                                      err_msg=f"{steps} steps")


@pytest.mark.parametrize("flush", [False, True])
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_the_check_reads_every_lane_alike(kernel, flush):
    # The check runs over whole vectors of 16 and a masked tail: each special
    # (parameter, state) pair, at every position of a 37-value stretch of
    # ordinary ones, gets the verdict it gets alone.
    fastmlp.set_flush_denormals(flush)
    n = 37
    for p0 in PARAMS:
        for s0 in STATES:
            alone = KERNELS[kernel]()
            alone.bind(1)
            alone.state(0)[0] = s0
            verdict = alone.zero_steps_keep_params(np.array([p0], np.float32))
            k = KERNELS[kernel]()
            k.bind(n)
            for at in range(n):
                p = np.full(n, 0.5, np.float32)
                k.state(0)[:] = 0.25
                p[at], k.state(0)[at] = p0, s0
                assert k.zero_steps_keep_params(p) == verdict, (p0, s0, at)


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_a_parameter_the_check_rejects_would_change(kernel):
    # Under a real zero-gradient step a subnormal weight turns zero (of its
    # sign) where subnormals are flushed, and a state of NaN or below zero
    # turns the weight NaN: deferring those would differ.
    fastmlp.set_flush_denormals(True)
    for p0, s0, expect in ((TINY, 0.25, 0.0), (-TINY, 0.25, -0.0), (0.5, np.nan, np.nan), (0.5, -1e-3, np.nan)):
        k = KERNELS[kernel]()
        k.learning_rate = 0.01
        k.bind(1)
        k.state(0)[0] = s0
        p = np.array([p0], np.float32)
        assert not k.zero_steps_keep_params(p)
        with np.errstate(all="ignore"):
            k.step(p, np.zeros(1, np.float32))
        assert p.view(np.uint32)[0] == np.float32(expect).view(np.uint32) or (np.isnan(expect) and np.isnan(p[0]))
        assert p.view(np.uint32)[0] != np.float32(p0).view(np.uint32)


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_infinite_and_negative_zero_weights_stay_under_a_zero_gradient(kernel):
    # As in PyTorch and Keras: p - 0, where p * 1 - p * 0 (the transform's
    # general form) would give NaN and +0. The check leaves them out all the same.
    for p0 in (-0.0, np.inf, -np.inf):
        k = KERNELS[kernel]()
        k.learning_rate = 0.01
        k.bind(1)
        k.state(0)[0] = 0.25
        p = np.array([p0], np.float32)
        assert not k.zero_steps_keep_params(p)
        k.step(p, np.zeros(1, np.float32))
        assert p.view(np.uint32)[0] == np.float32(p0).view(np.uint32)


ADAM_KERNELS = {
    "keras adam": lambda: fastmlp._core.KerasAdam(),
    "torch adam": lambda: fastmlp._core.TorchAdam(),
}
MOMENTS = np.array([0.0, -0.0, 0.5, -1e-30, 1e-36, NORMAL_MIN, -NORMAL_MIN, TINY, -TINY, np.float32(1e-45),
                    -np.float32(1e-45), np.inf, np.nan], np.float32)


def _adam_after_one_step(kernel, p0, m0, v0, learning_rate=0.01, bound=0.0):
    """An Adam kernel on one value, past a first step (which sets the bound
    on the step sizes to come), with that value's state set to m0, v0."""
    k = ADAM_KERNELS[kernel]()
    k.learning_rate = learning_rate
    k.deferral_learning_rate_bound = bound
    k.bind(1)
    k.step(np.zeros(1, np.float32), np.zeros(1, np.float32))
    k.state(0)[0], k.state(1)[0] = m0, v0
    return k, np.array([p0], np.float32)


@pytest.mark.parametrize("flush", [False, True])
@pytest.mark.parametrize("kernel", sorted(ADAM_KERNELS))
def test_adam_check_and_catch_up_against_real_zero_gradient_steps(kernel, flush):
    # Every (parameter, m, v) triple alone: where zero_steps_keep_params
    # accepts it, k real steps with a +0 gradient leave p as it is and give
    # the m and v that catch_up_zero_steps(k) gives.
    fastmlp.set_flush_denormals(flush)
    accepted = set()
    for p0 in PARAMS:
        for m0 in MOMENTS:
            for v0 in STATES:
                real, p = _adam_after_one_step(kernel, p0, m0, v0)
                deferred, q = _adam_after_one_step(kernel, p0, m0, v0)
                if not deferred.zero_steps_keep_params(q):
                    continue
                accepted.add((float(p0), float(m0)))
                assert_real_steps_match_the_catch_up(real, deferred, p, states=(0, 1))
    # m = +0 is settled under any weight. A weight of +0 has no room for a
    # change to round away, so it takes m at its fixed point (the smallest
    # normal floats where the decay's product is flushed, the smallest
    # subnormals where it rounds to 0); m = -1e-30 moves a weight of 0.5 by
    # far less than a quarter of its last place; m = 0.5 moves it (and only
    # weights near the largest float have room for that).
    settled = [NORMAL_MIN, -NORMAL_MIN] if flush else [np.float32(1e-45), -np.float32(1e-45)]
    assert {m for p, m in accepted if p == 0.0} == {float(m) for m in [0.0, *settled]}
    assert (0.5, float(np.float32(-1e-30))) in accepted
    assert (0.5, 0.5) not in accepted and (-3.0, 0.5) not in accepted


@pytest.mark.parametrize("kernel", sorted(ADAM_KERNELS))
def test_adam_check_bounds_the_learning_rates_to_come(kernel):
    # A settled m at one learning rate moves the weight at a far larger one:
    # the check takes the larger of the rate and the bound a caller set.
    fastmlp.set_flush_denormals(True)
    k, p = _adam_after_one_step(kernel, 1e-30, 1e-37, 0.0, learning_rate=1e-3)
    assert k.zero_steps_keep_params(p)
    k, p = _adam_after_one_step(kernel, 1e-30, 1e-37, 0.0, learning_rate=1e-3, bound=1e6)
    assert not k.zero_steps_keep_params(p)
    big, q = _adam_after_one_step(kernel, 1e-30, 1e-37, 0.0, learning_rate=1e6)
    big.step(q, np.zeros(1, np.float32))
    assert q[0] != np.float32(1e-30)


ADAM_DECAYS = [("keras adam", b2) for b2 in (0.999, 0.5, 0.0, 1.0)] + [("torch adam", b2) for b2 in (0.999, 0.5, 0.0)]


@pytest.mark.parametrize("flush", [False, True])
@pytest.mark.parametrize("kernel, beta2", ADAM_DECAYS)
def test_adam_catch_up_of_a_long_stretch_against_real_steps(kernel, beta2, flush):
    # Adam's moments over a stretch longer than a register block: v (Keras's
    # s + w (0 - s), PyTorch's b2 s + 0) and m (m + (1 - b1)(0 - m) in both),
    # m of either sign and small enough that the weights, all 1, stay.
    fastmlp.set_flush_denormals(flush)
    rng = np.random.default_rng(1)
    v = np.concatenate([np.float32(10.0) ** rng.uniform(-45, 38, 352).astype(np.float32),
                        [0.0, -0.0, 1e-38, 3e38, TINY, FLOAT_MAX, 1.0, 0.25]]).astype(np.float32)
    n = len(v)
    m = (np.float32(10.0) ** rng.uniform(-45, -22, n) * rng.choice([-1, 1], n)).astype(np.float32)
    m[:4] = [0.0, -0.0, NORMAL_MIN, -TINY]
    for steps in (1, 9, 17, 300, 3000):
        real, deferred = ADAM_KERNELS[kernel](), ADAM_KERNELS[kernel]()
        for k in (real, deferred):
            k.beta2 = beta2
            k.bind(n)
            k.step(np.ones(n, np.float32), np.zeros(n, np.float32))  # a first step sets the step-size bound
            k.state(0)[:], k.state(1)[:] = m, v
        p = np.ones(n, np.float32)
        assert deferred.zero_steps_keep_params(p)
        with np.errstate(all="ignore"):
            for _ in range(steps):
                real.step(p, np.zeros(n, np.float32))
            deferred.catch_up_zero_steps(steps)
        for i in (0, 1):
            np.testing.assert_array_equal(real.state(i).view(np.uint32), deferred.state(i).view(np.uint32),
                                          err_msg=f"state {i}, {steps} steps")
        assert (p == 1).all()


def test_which_settings_defer():
    def kernel(cls, **settings):
        k = getattr(fastmlp._core, cls)()
        for name, value in settings.items():
            setattr(k, name, value)
        k.bind(4)
        return k.defers_zero_steps

    assert kernel("KerasRMSprop") and kernel("TorchRMSprop") and kernel("KerasAdagrad") and kernel("TorchAdagrad")
    assert not kernel("KerasRMSprop", momentum=0.9)
    assert not kernel("TorchRMSprop", centered=True)
    assert not kernel("KerasRMSprop", epsilon=0.0)
    assert not kernel("KerasRMSprop", rho=1.5)
    assert not kernel("TorchAdagrad", lr_decay=-0.1)
    assert not kernel("KerasRMSprop", maximize=True)
    assert not kernel("KerasRMSprop", clip_value=0.5)
    assert not kernel("KerasRMSprop", l2_weight_decay=1e-3)
    assert not kernel("KerasRMSprop", decoupled_weight_decay=1e-3)
    assert not kernel("KerasRMSprop", clip_norm=1.0)
    assert not kernel("KerasRMSprop", learning_rate=float("inf"))
    assert kernel("KerasAdam") and kernel("TorchAdam") and kernel("KerasAdam", beta2=1.0)
    assert not kernel("KerasAdam", amsgrad=True) and not kernel("TorchAdam", amsgrad=True)
    assert not kernel("KerasAdam", beta1=1.0) and not kernel("TorchAdam", beta1=-0.5)
    assert not kernel("TorchAdam", beta2=1.0)  # 1 / sqrt(1 - b2^t) would be infinite
    assert not kernel("KerasAdam", epsilon=0.0) and not kernel("TorchAdam", decoupled_weight_decay=1e-2)
    assert not kernel("KerasNadam") and not kernel("KerasSGD")
