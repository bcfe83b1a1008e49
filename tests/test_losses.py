"""Losses against values worked out by hand, their stability at huge scores, and bad targets."""

import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minnet as mn

LN2, LN3 = np.log(2.0), np.log(3.0)


@contextmanager
def no_fp_warnings():
    """Raise on overflow, invalid values and division by zero; underflow to 0 is exact here."""
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        yield


# ---- SoftmaxCE --------------------------------------------------------------------------


def test_softmax_ce_by_hand():
    loss = mn.SoftmaxCE()
    scores = np.array([[0.0, 0.0],
                       [LN3, 0.0]])
    y = np.array([0, 1])
    # row 0: softmax = [1/2, 1/2], -log(1/2) = ln 2
    # row 1: softmax = [3/4, 1/4], -log(1/4) = 2 ln 2;   mean = 3/2 ln 2
    assert loss.forward(scores, y) == pytest.approx(1.5 * LN2, rel=1e-15)
    # (softmax - onehot) / N:  [[1/2 - 1, 1/2], [3/4, 1/4 - 1]] / 2
    assert_allclose(loss.backward(), [[-0.25, 0.25], [0.375, -0.375]], rtol=1e-15)


def test_softmax_ce_on_a_sequence_by_hand_counts_only_the_targets_that_are_not_ignored():
    loss = mn.SoftmaxCE(ignore_index=-1)
    scores = np.array([[[0.0, 0.0], [LN3, 0.0]],
                       [[5.0, 1.0], [LN3, 0.0]]])  # (N, T, C) = (2, 2, 2)
    y = np.array([[0, 1],
                  [-1, 0]])  # the third target is padding
    # counted: ln 2, 2 ln 2 and -log(3/4) = ln 4 - ln 3, over M = 3 targets
    assert loss.forward(scores, y) == pytest.approx((5 * LN2 - LN3) / 3, rel=1e-14)
    d = loss.backward()
    assert_allclose(d[1, 0], [0.0, 0.0])  # the ignored target: no gradient
    assert_allclose(d[0, 0], [-1 / 6, 1 / 6], rtol=1e-14)  # (softmax - onehot) / 3
    assert_allclose(d[1, 1], [-1 / 12, 1 / 12], rtol=1e-14)
    assert_allclose(loss.values(scores[None], y), [loss.forward(scores, y)], rtol=1e-15)


def test_softmax_ce_refuses_a_batch_whose_targets_are_all_ignored():
    with pytest.raises(ValueError, match="every target is ignore_index"):
        mn.SoftmaxCE(ignore_index=-1).forward(np.zeros((2, 3, 4)), np.full((2, 3), -1))


def test_softmax_ce_on_a_sequence_needs_one_label_per_position():
    with pytest.raises(ValueError, match=r"y must have shape \(2, 3\).*got \(2, 4\)"):
        mn.SoftmaxCE().forward(np.zeros((2, 3, 4)), np.zeros((2, 4), dtype=int))
    with pytest.raises(TypeError, match="2-D array of integer class labels"):
        mn.SoftmaxCE().forward(np.zeros((2, 3, 4)), np.zeros(2, dtype=int))


def test_softmax_ce_is_stable_at_scores_of_1000():
    loss = mn.SoftmaxCE()
    scores = np.array([[1000.0, 1000.0],
                       [-1000.0, 1000.0]])
    y = np.array([0, 0])
    with no_fp_warnings():
        value = loss.forward(scores, y)
        grad = loss.backward()
        values = loss.values(np.stack([scores, -scores]), y)
    # row 0: equal scores, ln 2.  row 1: -log(e⁻¹⁰⁰⁰ / (e⁻¹⁰⁰⁰ + e¹⁰⁰⁰)) = 2000 + log(1 + e⁻²⁰⁰⁰)
    assert value == pytest.approx((LN2 + 2000.0) / 2, rel=1e-15)
    assert_allclose(values, [value, LN2 / 2], rtol=1e-15)  # -scores: row 1 is right by 2000
    # row 0: [1/2 - 1, 1/2] / 2;  row 1: softmax = [0, 1], so [0 - 1, 1] / 2
    assert_allclose(grad, [[-0.25, 0.25], [-0.5, 0.5]], rtol=1e-15)


def test_softmax_ce_values_match_forward_over_a_stack():
    rng = np.random.default_rng(0)
    scores, y = rng.standard_normal((3, 5, 4)), rng.integers(0, 4, 5)
    values = mn.SoftmaxCE().values(scores, y)
    assert_allclose(values, [mn.SoftmaxCE().forward(s, y) for s in scores], rtol=1e-14)


def test_softmax_ce_values_match_forward_over_a_stack_of_sequences_with_ignored_targets():
    rng = np.random.default_rng(1)
    scores, y = 3 * rng.standard_normal((4, 3, 5, 6)), rng.integers(-1, 6, (3, 5))
    loss = mn.SoftmaxCE(ignore_index=-1)
    assert (y == -1).any() and (y != -1).any()
    assert_allclose(loss.values(scores, y), [loss.forward(s, y) for s in scores], rtol=1e-14)


def test_softmax_ce_rejects_float_labels_with_a_type_error():
    with pytest.raises(TypeError, match="integer class labels.*float64"):
        mn.SoftmaxCE().forward(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_softmax_ce_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2 .*from 0 to 3"):
        mn.SoftmaxCE().forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2 .*from -1 to 1"):
        mn.SoftmaxCE().forward(np.zeros((2, 3)), np.array([-1, 1]))


def test_softmax_ce_rejects_a_length_mismatch():
    with pytest.raises(ValueError, match="X has 2 samples but y has 3"):
        mn.SoftmaxCE().forward(np.zeros((2, 3)), np.array([0, 1, 2]))


# ---- MSE --------------------------------------------------------------------------------


def test_mse_by_hand():
    loss = mn.MSE()
    scores = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[0.0, 2.0], [5.0, 4.0]])
    # diff = [[1, 0], [-2, 0]];  mean of squares = (1 + 4) / 4
    assert loss.forward(scores, y) == 1.25
    # 2 diff / (N D) = 2 [[1, 0], [-2, 0]] / 4
    assert_array_equal(loss.backward(), [[0.5, 0.0], [-1.0, 0.0]])


def test_mse_accepts_a_flat_target_for_one_output():
    loss = mn.MSE()
    # diff = [1, -1, 2];  (1 + 1 + 4) / 3 = 2;  grad 2 diff / 3
    assert loss.forward(np.array([[1.0], [2.0], [5.0]]), np.array([0.0, 3.0, 3.0])) == 2.0
    assert_allclose(loss.backward(), [[2 / 3], [-2 / 3], [4 / 3]], rtol=1e-15)


def test_mse_keeps_the_dtype_of_the_scores():
    loss = mn.MSE()
    loss.forward(np.ones((2, 2), np.float32), np.zeros((2, 2)))
    assert loss.backward().dtype == np.float32


@pytest.mark.parametrize("y, message", [
    (np.zeros((2, 3)), r"y must have shape \(2, 2\) like the scores, got \(2, 3\)"),
    (np.array([[0.0, np.nan], [0.0, 0.0]]), "y must be finite numbers"),
])
def test_mse_rejects_bad_targets(y, message):
    with pytest.raises(ValueError, match=message):
        mn.MSE().forward(np.zeros((2, 2)), y)


# ---- SigmoidBCE -------------------------------------------------------------------------


def test_sigmoid_bce_by_hand():
    loss = mn.SigmoidBCE()
    scores = np.array([[0.0], [LN3], [-LN3]])
    y = np.array([1, 0, 1])
    # log(1 + eˢ) - y s:  ln 2 - 0 = ln 2;  ln(1 + 3) - 0 = 2 ln 2;  ln(1 + 1/3) + ln 3 = 2 ln 2
    assert loss.forward(scores, y) == pytest.approx(5 * LN2 / 3, rel=1e-15)
    # (sigmoid(s) - y) / N:  (1/2 - 1) / 3,  (3/4 - 0) / 3,  (1/4 - 1) / 3
    assert_allclose(loss.backward(), [[-1 / 6], [1 / 4], [-1 / 4]], rtol=1e-15)


def test_sigmoid_bce_is_stable_at_scores_of_1000():
    loss = mn.SigmoidBCE()
    with no_fp_warnings():
        value = loss.forward(np.array([[1000.0], [-1000.0]]), np.array([0, 1]))
        grad = loss.backward()
    # both samples are wrong by a margin of 1000: log(1 + e¹⁰⁰⁰) = 1000 (+ e⁻¹⁰⁰⁰)
    assert value == 1000.0
    # (sigmoid(1000) - 0) / 2 = 1/2;  (sigmoid(-1000) - 1) / 2 = -1/2
    assert_array_equal(grad, [[0.5], [-0.5]])


@pytest.mark.parametrize("scores, y", [
    (np.zeros((2, 1)), np.array([0, 2])),
    (np.zeros((2, 2)), np.array([0, 1])),
])
def test_sigmoid_bce_rejects_labels_other_than_0_1_or_more_than_one_score(scores, y):
    with pytest.raises(ValueError, match="one score per sample and labels 0 or 1"):
        mn.SigmoidBCE().forward(scores, y)


# ---- SVMLoss ------------------------------------------------------------------------------


def test_svm_loss_by_hand():
    """The CS231n example: scores of a cat (label 0), a car (1) and a frog (2), margin 1."""
    scores = np.array([[3.2, 5.1, -1.7],
                       [1.3, 4.9, 2.0],
                       [2.2, 2.5, -3.1]])
    y = np.array([0, 1, 2])
    # cat:  max(0, 5.1 - 3.2 + 1) + max(0, -1.7 - 3.2 + 1) = 2.9 + 0
    # car:  max(0, 1.3 - 4.9 + 1) + max(0, 2.0 - 4.9 + 1) = 0 + 0
    # frog: max(0, 2.2 + 3.1 + 1) + max(0, 2.5 + 3.1 + 1) = 6.3 + 6.6;  mean = 15.8 / 3
    loss = mn.SVMLoss()
    assert loss.forward(scores, y) == pytest.approx(15.8 / 3, rel=1e-14)
    # a positive margin adds 1/N at j and takes 1/N from the true class
    assert_allclose(loss.backward(), np.array([[-1, 1, 0],
                                               [0, 0, 0],
                                               [1, 1, -2]]) / 3, rtol=1e-15)


def test_svm_loss_margin_and_a_margin_of_exactly_zero():
    scores, y = np.array([[1.0, 1.5, 0.0]]), np.array([0])
    # margin 0.5: 1.5 - 1 + 0.5 = 1 counts;  0 - 1 + 0.5 < 0 does not
    loss = mn.SVMLoss(margin=0.5)
    assert loss.forward(scores, y) == 1.0
    assert_array_equal(loss.backward(), [[-1.0, 1.0, 0.0]])
    # margin 1 with s_j - s_y = -1: the hinge sits at its corner; max(0, 0) adds nothing
    loss = mn.SVMLoss()
    assert loss.forward(np.array([[1.0, 0.0]]), np.array([0])) == 0.0
    assert_array_equal(loss.backward(), [[0.0, 0.0]])


def test_svm_loss_corners_are_the_margins_with_inf_for_the_true_class():
    scores, y = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0]]), np.array([0, 1])
    assert_allclose(mn.SVMLoss().corners(scores, y),
                    [[np.inf, 2.9, -3.9], [-2.6, np.inf, -1.9]], rtol=1e-14)
    stack = np.stack([scores, scores + [[0, 0, 3.9], [0, 0, 0]]])
    corners = mn.SVMLoss().corners(stack, y)
    assert corners.shape == (2, 2, 3) and corners[1, 0, 2] == pytest.approx(0.0, abs=1e-15)


def test_svm_loss_values_match_forward_over_a_stack():
    rng = np.random.default_rng(1)
    scores, y = rng.standard_normal((3, 5, 4)), rng.integers(0, 4, 5)
    values = mn.SVMLoss(0.7).values(scores, y)
    assert values.shape == (3,)
    assert_allclose(values, [mn.SVMLoss(0.7).forward(s, y) for s in scores], rtol=1e-14)


def test_svm_loss_rejects_bad_labels_and_margins():
    with pytest.raises(TypeError, match=r"SVMLoss.*integer class labels"):
        mn.SVMLoss().forward(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2"):
        mn.SVMLoss().forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="margin"):
        mn.SVMLoss(margin=-1.0)


def test_softmax_ce_backward_is_the_same_for_scores_in_fortran_order():
    rng = np.random.default_rng(0)
    scores, y = rng.standard_normal((4, 3, 5)), rng.integers(0, 5, (4, 3))
    grads = []
    for s in (scores, np.asfortranarray(scores)):
        loss = mn.SoftmaxCE()
        loss.forward(s, y)
        grads.append(loss.backward())
    probs = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    expected = (probs - np.eye(5)[y]) / 12
    assert np.allclose(grads[0], expected) and np.allclose(grads[1], expected)
