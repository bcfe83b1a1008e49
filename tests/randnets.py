"""Random correct networks for the checker's "never a false alarm" tests."""

from __future__ import annotations

import numpy as np

import minnet as mn

ACTIVATIONS = (mn.ReLU, lambda: mn.LeakyReLU(0.1), mn.Sigmoid, mn.Tanh)


def random_net(seed: int):
    """A small correct model and a batch, all drawn from `seed`: depth, widths, activation,
    BatchNorm, Dropout, l2 and loss vary."""
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(4, 17)), int(rng.integers(2, 9))
    widths = [d, *rng.integers(2, 13, size=rng.integers(1, 4)).tolist()]
    act = ACTIVATIONS[seed % len(ACTIVATIONS)]
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(mn.Dense(a, b, init="he" if i % 2 else "xavier", seed=seed * 10 + i))
        if rng.random() < 0.3:
            layers.append(mn.BatchNorm(b))
        layers.append(act())
        if rng.random() < 0.3:
            layers.append(mn.Dropout(float(rng.uniform(0.1, 0.6)), seed=seed))
    loss_kind = seed % 3
    out = 1 if loss_kind == 2 else int(rng.integers(2, 6))
    layers.append(mn.Dense(widths[-1], out, init="xavier", seed=seed * 10 + 9))
    X = rng.standard_normal((n, d))
    if loss_kind == 0:
        loss, y = mn.SoftmaxCE(), rng.integers(0, out, n)
    elif loss_kind == 1:
        loss, y = mn.MSE(), rng.standard_normal((n, out))
    else:
        loss, y = mn.SigmoidBCE(), rng.integers(0, 2, n)
    l2 = float(rng.choice([0.0, 1e-3, 0.1]))
    return mn.Model(layers, loss=loss, l2=l2), X, y
