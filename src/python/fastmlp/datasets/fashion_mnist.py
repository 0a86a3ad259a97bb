"""The Fashion-MNIST dataset (Zalando article images, MNIST file layout)."""

from __future__ import annotations

import os

from .mnist import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    ArrayPair,
    DatasetSpec,
    load_mnist_format,
)

__all__ = ["FASHION_MNIST", "load_data"]

FASHION_MNIST = DatasetSpec(
    name="Fashion-MNIST",
    cache_subdir="fashion-mnist",
    # Checksums and mirror as listed by torchvision.datasets.FashionMNIST.
    md5_by_file={
        TRAIN_IMAGES: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        TRAIN_LABELS: "25c81989df183df01b3e8a0aad5dffbe",
        TEST_IMAGES: "bef4ecab320f06d8554ea6380940ec79",
        TEST_LABELS: "bb300cfdad3c16e7a12a480ee83cd310",
    },
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    mirror_env_var="FASTMLP_FASHION_MNIST_MIRROR",
    data_env_var="FASTMLP_FASHION_MNIST_DATA",
    train_count=60000,
    test_count=10000,
)


def load_data(path: str | os.PathLike[str] | None = None, *, download: bool = True) -> tuple[ArrayPair, ArrayPair]:
    """Load Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))``, like Keras.

    Same shapes and dtypes as ``fastmlp.datasets.mnist.load_data``. ``path``
    is a folder holding the four IDX files (default: ``$FASTMLP_FASHION_MNIST_DATA``
    (not ``$FASTMLP_DATA``, which names MNIST's folder), else
    the cache folder ``$FASTMLP_CACHE/fashion-mnist``,
    ``$XDG_CACHE_HOME/fastmlp/fashion-mnist`` or
    ``~/.cache/fastmlp/fashion-mnist``). ``$FASTMLP_FASHION_MNIST_MIRROR``
    (comma-separated base URLs) overrides the download mirror.
    """
    return load_mnist_format(FASHION_MNIST, path, download=download)
