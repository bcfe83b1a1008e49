"""The textbook page: numeric_gradient, rel_error, check_function; every faster path equals it."""

import numpy as np
import pytest
from planted import BUGS
from randnets import random_net

import minnet as mn
from minnet.gradcheck import DEFAULT_TOL


def svm_loss_naive(W, X, y, reg):
    """CS231n's multiclass SVM loss with loops, and its gradient dW."""
    dW = np.zeros(W.shape)
    loss = 0.0
    for i in range(X.shape[0]):
        scores = X[i].dot(W)
        for j in range(W.shape[1]):
            if j == y[i]:
                continue
            margin = scores[j] - scores[y[i]] + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss = loss / X.shape[0] + reg * np.sum(W * W)
    return loss, dW / X.shape[0] + 2 * reg * W


def svm_loss_forgets_reg_gradient(W, X, y, reg):
    loss, dW = svm_loss_naive(W, X, y, reg)
    return loss, dW - 2 * reg * W


def softmax_loss(x, y):
    """CS231n's softmax loss of scores x (N, C): (loss, dx)."""
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    N = x.shape[0]
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    return -log_probs[np.arange(N), y].mean(), dx / N


def data(seed=0, n=6, d=4, c=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((d, c)) * 0.1, rng.standard_normal((n, d)), rng.integers(0, c, n)


def test_numeric_gradient_of_a_quadratic_is_exact_by_hand():
    x = np.array([1.0, -2.0, 3.0])
    g = mn.numeric_gradient(lambda x: np.sum(x**2) + 3 * x[0], x)
    np.testing.assert_allclose(g, [2 + 3, -4, 6], rtol=1e-9)
    assert np.array_equal(x, [1.0, -2.0, 3.0])  # put back exactly


def test_numeric_gradient_with_dout_is_the_gradient_of_the_weighted_sum():
    x = np.array([[0.5, -1.0], [2.0, 0.0]])
    dout = np.array([[1.0, 2.0], [-1.0, 3.0]])
    g = mn.numeric_gradient(np.tanh, x, dout=dout)
    np.testing.assert_allclose(g, dout * (1 - np.tanh(x) ** 2), rtol=1e-8)


def test_numeric_gradient_works_on_an_x_that_f_also_reads():
    """The CS231n pattern: f ignores its argument and reads W through a closure."""
    W, X, y = data()
    g = mn.numeric_gradient(lambda _: svm_loss_naive(W, X, y, 0.1)[0], W)
    np.testing.assert_allclose(g, svm_loss_naive(W, X, y, 0.1)[1], rtol=1e-6, atol=1e-9)


def test_numeric_gradient_puts_x_back_even_when_f_changes_it_in_place():
    x = np.array([0.5, -1.5, 2.0])

    def f(x):
        x[x < 0] = 0  # a student's in-place ReLU
        return np.sum(x * x)

    g = mn.numeric_gradient(f, x)
    assert np.array_equal(x, [0.5, -1.5, 2.0])
    np.testing.assert_allclose(g, [1.0, 0.0, 4.0], atol=1e-6)


def test_numeric_gradient_refuses_what_it_cannot_perturb():
    with pytest.raises(TypeError, match="float"):
        mn.numeric_gradient(np.sum, np.arange(3))
    with pytest.raises(TypeError, match="float64"):
        mn.numeric_gradient(np.sum, np.ones(3, dtype=np.float32))
    with pytest.raises(TypeError, match=r"f\(x\)\[0\]"):
        mn.numeric_gradient(lambda x: (np.sum(x), x), np.ones(3))
    with pytest.raises(TypeError, match="dout"):
        mn.numeric_gradient(np.tanh, np.ones(3))


def test_rel_error_by_hand():
    assert mn.gradcheck.rel_error(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0
    assert mn.gradcheck.rel_error(np.array([3.0, 4.0]), np.zeros(2)) == 1.0
    assert mn.gradcheck.rel_error(np.array([2.0]), np.array([1.0])) == pytest.approx(1 / 3)


def test_check_function_takes_two_lines_for_svm_loss_naive():
    W, X, y = data()
    loss, dW = svm_loss_naive(W, X, y, 0.1)
    result = mn.check_function(lambda W: svm_loss_naive(W, X, y, 0.1)[0], W, dW)
    assert result.passed and result.rel_error < DEFAULT_TOL
    assert "PASSED" in str(result)


def test_check_function_takes_one_line_when_f_returns_value_and_gradient():
    x = np.random.default_rng(1).standard_normal((5, 3))
    y = np.array([0, 2, 1, 1, 0])
    assert mn.check_function(lambda x: softmax_loss(x, y), x).passed


def test_check_function_names_the_mistake():
    W, X, y = data()
    result = mn.check_function(lambda W: svm_loss_forgets_reg_gradient(W, X, y, 0.1), W)
    assert not result.passed and "FAILED" in str(result)
    x = np.random.default_rng(1).standard_normal((5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    loss, dx = softmax_loss(x, labels)
    result = mn.check_function(lambda x: softmax_loss(x, labels)[0], x, dx * 3)
    assert not result.passed and "batch size" not in result.hint
    assert result.hint.startswith("factor: analytic ≈ 3 × numeric")
    result = mn.check_function(lambda x: softmax_loss(x, labels)[0], x, dx * len(x))
    assert "a missing division by the batch size N = 5" in result.hint
    assert "sign" in mn.check_function(lambda x: softmax_loss(x, labels)[0], x, -dx).hint


def test_check_function_refuses_a_gradient_of_the_wrong_shape():
    x = np.ones((2, 3))
    result = mn.check_function(lambda x: np.sum(x**2), x, np.ones((3, 2)))
    assert not result.passed and "transposed" in result.hint


# ---- every faster path equals the textbook, verdict for verdict ---------------------------


def textbook_verdicts(model, X, y):
    """Per tensor: does backprop agree with numeric_gradient on J(θ), one entry at a time?"""
    model.compute_loss(X, y)
    model.backward()
    verdicts = []
    for layer in model.layers:
        for name, p in layer.params.items():
            numeric = mn.numeric_gradient(lambda _: model.compute_loss(X, y), p)
            check = mn.gradcheck.compare(layer.grads[name].ravel(), numeric.ravel(),
                                         np.arange(p.size), layer.grads[name], DEFAULT_TOL,
                                         1e-8 * max(1, abs(model.compute_loss(X, y))), 0, "",
                                         name, "full")
            verdicts.append(check.passed)
    return verdicts


SMOOTH = [s for s in range(60) if s % 4 in (2, 3)]  # Sigmoid and Tanh nets: no kinks to argue


@pytest.mark.parametrize("fast", [True, False])
def test_the_checker_gives_the_textbook_verdicts(fast):
    cases = [random_net(seed) for seed in SMOOTH]
    cases += [b.build(0) for b in BUGS if b.name != "gradients accumulate"]
    for model, X, y in cases:
        for layer in model.layers:
            if hasattr(layer, "freeze"):
                layer.freeze()  # the textbook's J must be a fixed function of θ too
        want = textbook_verdicts(model, X, y)
        got = mn.GradientChecker(mode="full", fast=fast, progress=False).check(model, X, y)
        assert [c.passed for c in got.params] == want, str(got)


def test_the_textbook_page_imports_nothing_else_of_minnet():
    """numeric.py stands first: the diagnoses build on it, never the reverse."""
    import ast
    from pathlib import Path

    import minnet.gradcheck.numeric as numeric

    tree = ast.parse(Path(numeric.__file__).read_text())
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "numpy"}, imported
