"""A check shared by the tests of layers that offer the gradient checker a `nudged` shortcut."""

import numpy as np
from numpy.testing import assert_allclose


def assert_nudged_is_forward_with_each_entry_moved(layer, x, rtol=1e-12, atol=1e-13):
    """layer.nudged(x, name, every entry, deltas)[k] equals forward(x) with entry k moved."""
    for name, p in layer.params.items():
        idx = np.arange(p.size)
        delta = np.linspace(-0.1, 0.1, p.size)
        fast = layer.nudged(x, name, idx, delta)
        for k in range(p.size):
            old = p.flat[k]
            p.flat[k] += delta[k]
            assert_allclose(fast[k], layer.forward(x), rtol=rtol, atol=atol,
                            err_msg=f"{name}[{k}]")
            p.flat[k] = old
