"""The references' experiment on real MNIST (reference 000): MLP
784-300-100-10, Keras-default SGD (learning rate 0.01), batch 32, 5 epochs,
the first 5,000 training images held out for validation. Reference 000
reports 0.9504 test accuracy and Keras 3 reaches 0.9535; the issue asks >= 0.95.

With fastmlp, test accuracy over seeds 0-7 measured 0.9517 +- 0.0016 (min
0.9496), so a fixed seed and thread count (which make the run bit-identical)
are pinned here; seed 0 on 2 threads measured 0.9511."""

import numpy as np

import fastmlp
from conftest import reference_mlp


def test_reference_mlp_with_sgd_reaches_95_percent(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    fastmlp.set_num_threads(2)
    model = reference_mlp(seed=0)
    assert model.count_params() == 266_610
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train[5000:],
        y_train[5000:],
        validation_data=(x_train[:5000], y_train[:5000]),
        batch_size=32,
        epochs=5,
        verbose=0,
    )
    losses = history.history["loss"]
    assert all(a > b for a, b in zip(losses, losses[1:])), f"training loss should fall every epoch: {losses}"
    assert history.history["val_accuracy"][-1] >= 0.95
    test_loss, test_accuracy = model.evaluate(x_test, y_test)
    assert test_accuracy >= 0.95, f"test accuracy {test_accuracy:.4f}"
    # predict agrees with evaluate's accuracy
    predicted = model.predict(x_test).argmax(axis=1)
    assert np.mean(predicted == y_test) == test_accuracy
