"""minnet.testing: assertion helpers for pytest and autograders."""

import numpy as np
import pytest

from minnet.testing import assert_close


def test_assert_close_passes_equal_arrays_and_names_the_worst_entry():
    assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]))
    with pytest.raises(AssertionError, match=r"out: 1 of 3 entries differ; worst at \(2,\)"):
        assert_close(np.array([1.0, 2.0, 3.5]), np.array([1.0, 2.0, 3.0]), name="out")


def test_assert_close_does_not_let_nan_through():
    with pytest.raises(AssertionError, match=r"worst at \(1,\): nan"):
        assert_close(np.array([1.0, np.nan]), np.array([1.0, 2.0]))


def test_assert_close_checks_shapes():
    with pytest.raises(AssertionError, match="shape"):
        assert_close(np.ones(3), np.ones((3, 1)))
