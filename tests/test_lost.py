"""A right gradient computed and then lost: the report says where it is and what to do.

Student layers whose backward computes the true gradient but returns or stores another
array: a variable returned in place of another, a gradient stored before it is complete, a
misspelled grads key, an attribute instead of grads, and a generator that forward uses up.
"""

import numpy as np

import minnet as mn
from minnet.gradcheck import check_layer


def x_batch(shape=(5, 4), seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


class Scale(mn.Layer):
    """y = x * alpha, one alpha per feature.  x (N, D) -> y (N, D)."""

    def __init__(self, d=4):
        super().__init__()
        self.params = {"alpha": np.linspace(0.5, 1.5, d)}
        self.grads = {"alpha": np.zeros(d)}

    def forward(self, x):
        self.x = x
        return x * self.params["alpha"]

    def backward(self, dout):
        self.grads["alpha"] = np.sum(dout * self.x, axis=0)
        return dout * self.params["alpha"]


class ScaleMisspelled(Scale):
    def backward(self, dout):
        self.grads["aplha"] = np.sum(dout * self.x, axis=0)
        return dout * self.params["alpha"]


class ScaleAttribute(Scale):
    def backward(self, dout):
        self.dalpha = (dout * self.x).sum(axis=0)
        return dout * self.params["alpha"]


class Affine(mn.Layer):
    """y = x W + b.  x (N, D) -> y (N, M)."""

    def __init__(self, d=4, m=3):
        super().__init__()
        rng = np.random.default_rng(0)
        self.params = {"W": rng.standard_normal((d, m)), "b": np.zeros(m)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.cache = (x, self.params["W"])
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        x, W = self.cache
        self.grads["W"] = x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ W.T


class AffineStoredEarly(Affine):
    def backward(self, dout):
        x, W = self.cache
        dW = np.zeros_like(W)
        self.grads["W"] = dW
        for i in range(x.shape[0]):
            dW = dW + np.outer(x[i], dout[i])  # a new array each time: grads keeps the zeros
        self.grads["b"] = dout.sum(axis=0)
        return dout @ W.T


class AffineReturnsOther(Affine):
    def backward(self, dout):
        x, W = self.cache
        self.grads["W"] = x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        dx = dout @ W.T
        dx_scaled = dx / x.shape[0]
        return dx_scaled


class AffineWrongFormula(Affine):
    def backward(self, dout):
        x, W = self.cache
        self.grads["W"] = x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return 2 * dout @ W.T


class AffineHelper(Affine):
    def weight_grad(self, x, dout):
        total = np.zeros((x.shape[1], dout.shape[1]))
        for i in range(len(x)):
            total += np.outer(x[i], dout[i])
            last = np.outer(x[i], dout[i])
        return last  # the last sample's term, not the sum

    def backward(self, dout):
        x, W = self.cache
        self.grads["W"] = self.weight_grad(x, dout)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ W.T


class RowPairs(mn.Layer):
    """y[:, k] = x[:, i_k] * x[:, j_k] for the pairs forward lists.  x (N, D) -> (N, P)."""

    def forward(self, x):
        self.x = x
        self.pairs = zip([0, 1, 2], [1, 2, 3])  # a one-shot iterator (a list is meant)
        return np.stack([x[:, i] * x[:, j] for i, j in self.pairs], axis=1)

    def backward(self, dout):
        dx = np.zeros_like(self.x)
        for k, (i, j) in enumerate(self.pairs):
            dx[:, i] += dout[:, k] * self.x[:, j]
            dx[:, j] += dout[:, k] * self.x[:, i]
        return dx


def findings(report, param):
    return next(c for c in report.checks if c.param == param).findings


def test_a_misspelled_key_is_named_with_the_key_the_gradient_went_to():
    r = check_layer(ScaleMisspelled(), x_batch())
    assert not r.passed
    said = findings(r, "alpha")[0]
    assert said.startswith("grads['aplha'] holds the true dalpha (equal at every entry)")
    assert "store it under 'alpha'" in said and "all zeros" in said


def test_a_gradient_kept_as_an_attribute_is_found_there():
    r = check_layer(ScaleAttribute(), x_batch())
    said = findings(r, "alpha")[0]
    assert said.startswith("self.dalpha holds the true dalpha")
    assert "store self.dalpha in grads['alpha']" in said


def test_a_gradient_stored_before_it_was_complete_names_the_variable():
    r = check_layer(AffineStoredEarly(), x_batch())
    said = findings(r, "W")[0]
    assert said == ("backward's variable `dW` holds the true dW (equal at every entry); "
                    "grads['W'] is another array (all zeros): store `dW` in grads['W']")
    assert [c.param for c in r.checks if not c.passed] == ["W"]


def test_a_returned_variable_that_is_not_the_right_one_is_named_beside_the_right_one():
    r = check_layer(AffineReturnsOther(), x_batch())
    said = findings(r, "input")[0]
    assert said == ("backward's variable `dx` holds the true dx (equal at every entry); "
                    "backward returns another array (`dx_scaled`): return `dx`")


def test_a_helper_method_s_variable_is_named_with_the_method():
    r = check_layer(AffineHelper(), x_batch())
    assert findings(r, "W")[0] == ("the variable `total` of weight_grad holds the true dW "
                                   "(equal at every entry); grads['W'] is another array: "
                                   "store `total` in grads['W']")


def test_no_such_statement_when_no_array_holds_the_true_gradient():
    r = check_layer(AffineWrongFormula(), x_batch())
    assert not r.passed
    assert not any("holds the true" in f for c in r.checks for f in c.findings)
    assert check_layer(Affine(), x_batch()).passed
    assert check_layer(Scale(), x_batch()).passed


def test_an_iterator_that_forward_uses_up_is_named():
    r = check_layer(RowPairs(), x_batch())
    assert not r.passed
    said = findings(r, "input")[0]
    assert said.startswith("self.pairs is a zip, an iterator that one loop uses up")
    assert "make it a list" in said
