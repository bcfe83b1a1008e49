"""Reference solution of tutorials/05_assignment.ipynb, for teachers.

Each block below that starts with a line `# %% exercise-NAME` replaces, word for word, the
notebook cell tagged `exercise-NAME` (a stub that raises NotImplementedError). A block ends
at the next `# %%` line. tests/test_tutorials.py runs the notebook with these blocks in place
and checks that every grading cell passes; it also runs the notebook as shipped and checks
that the stubs fail the first grading cell with a helpful message.

To check the solution without Jupyter:

    python tutorials/solutions/05_assignment.py
"""

import numpy as np

import minnet as mn


# %% exercise-softplus
class Softplus(mn.Layer):
    """y = log(1 + exp(x)), entry by entry. No parameters."""

    def forward(self, x):
        self.x = x
        return np.logaddexp(0, x)  # log(e^0 + e^x), without overflow

    def backward(self, dout):
        # softplus'(x) = e^x / (1 + e^x) = sigmoid(x), written so that it never overflows
        return dout * np.exp(-np.logaddexp(0, -self.x))

# %% exercise-prelu
class PReLU(mn.Layer):
    """Parametric ReLU: y = x where x > 0, alpha * x elsewhere; one learned alpha per feature.

    forward:  x (N, F) -> y (N, F);  params {"alpha": (F,)}
    """

    kink = 0.0  # y has a corner at x = 0: the gradient checker skips nudges that cross it

    def __init__(self, num_features, alpha=0.25):
        super().__init__()
        self.num_features = num_features
        self.params = {"alpha": np.full(num_features, float(alpha))}
        self.grads = {"alpha": np.zeros(num_features)}

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.params["alpha"] * x)

    def backward(self, dout):
        # alpha_f appears in y[n, f] for every sample n where x[n, f] <= 0, with slope x[n, f]
        self.grads["alpha"] = (dout * np.minimum(self.x, 0)).sum(axis=0)
        return dout * np.where(self.x > 0, 1.0, self.params["alpha"])

# %% end of the notebook blocks


if __name__ == "__main__":
    from minnet.testing import assert_gradients_ok

    rng = np.random.default_rng(0)
    x = 3 * rng.standard_normal((8, 5))
    assert_gradients_ok(Softplus(), x)
    layer = PReLU(5)
    layer.params["alpha"][...] = rng.uniform(0.1, 0.5, 5)
    assert_gradients_ok(layer, x)
    print("reference solution: Softplus and PReLU pass their gradient checks")
