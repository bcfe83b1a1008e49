"""Reference solution of the exercise of tutorials/06_convolutions.ipynb, for teachers.

The block below that starts with `# %% exercise-avgpool` replaces, word for word, the
notebook cell tagged `exercise-avgpool` (a stub that raises NotImplementedError). It ends at
the next `# %%` line. tests/test_tutorial_06.py runs the notebook with this block in place
and checks that the grading cell passes.

To check the solution without Jupyter:

    python tutorials/solutions/06_convolutions.py
"""

import numpy as np

import minnet as mn
from minnet.layers import col2im, windows


# %% exercise-avgpool
class AvgPool2D(mn.Layer):
    """Average pooling: y[n, c, i, j] = mean of the k x k window at (i * stride, j * stride).

    forward:  x (N, C, H, W) -> y (N, C, H', W'),  H' = (H - k) // stride + 1
    """

    smooth = True  # a mean has no corners

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride

    def forward(self, x):
        self.x_shape = x.shape
        return windows(x, self.kernel_size, self.stride).mean(axis=(-2, -1))

    def backward(self, dout):
        # every entry of a window gets 1/k² of that window's gradient; col2im adds overlaps
        k = self.kernel_size
        dwin = np.broadcast_to(dout[..., None, None] / k**2, (*dout.shape, k, k))
        return col2im(dwin, self.x_shape, self.stride)

# %% end of the notebook blocks


if __name__ == "__main__":
    from minnet.testing import assert_gradients_ok

    x = np.random.default_rng(1).standard_normal((2, 3, 7, 7))
    for k, stride in [(2, None), (3, 1), (3, 2)]:
        assert_gradients_ok(AvgPool2D(k, stride), x)
    print("reference solution: AvgPool2D passes its gradient checks")
