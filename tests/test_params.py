"""Flat parameters: exact round trips, the fixed order, locate, and all-or-nothing setting."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import minnet as mn
from minnet import params as P


def small_model():
    """Params in flat order: 0.W (3, 4) 0-11, 0.b 12-15, 2.gamma 16-19, 2.beta 20-23,
    4.W (4, 2) 24-31, 4.b 32-33: 34 in all."""
    return mn.Model([mn.Dense(3, 4, seed=0), mn.ReLU(), mn.BatchNorm(4), mn.Tanh(),
                     mn.Dense(4, 2, seed=1)], loss=mn.SoftmaxCE())


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p[...] = rng.standard_normal(p.shape)
    return model


def test_names_follow_layer_order_then_param_order():
    names = [name for name, _ in small_model().named_parameters()]
    assert names == ["0.W", "0.b", "2.gamma", "2.beta", "4.W", "4.b"]


def test_flat_params_are_the_params_raveled_in_that_order():
    model = randomize(small_model())
    d = model.layers
    expected = np.concatenate([d[0].params["W"].ravel(), d[0].params["b"],
                               d[2].params["gamma"], d[2].params["beta"],
                               d[4].params["W"].ravel(), d[4].params["b"]])
    flat = model.get_flat_params()
    assert flat.shape == (34,)
    assert_array_equal(flat, expected)


def test_get_flat_params_returns_a_copy():
    model = randomize(small_model())
    flat = model.get_flat_params()
    flat[:] = 0
    assert not np.array_equal(model.get_flat_params(), flat)


def test_set_then_get_flat_params_round_trips_exactly():
    model = small_model()
    v = np.random.default_rng(1).standard_normal(34)
    model.set_flat_params(v)
    assert_array_equal(model.get_flat_params(), v)
    assert_array_equal(model.layers[4].params["W"], v[24:32].reshape(4, 2))
    assert_array_equal(model.layers[2].params["beta"], v[20:24])


def test_set_flat_params_writes_in_place_and_keeps_no_reference_to_the_vector():
    model = small_model()
    W = model.layers[0].params["W"]
    v = np.random.default_rng(1).standard_normal(34)
    model.set_flat_params(v)
    assert model.layers[0].params["W"] is W
    v[:] = 0
    assert not np.any(model.get_flat_params() == 0)


def test_flat_grads_are_the_grads_in_the_same_order():
    model = randomize(small_model())
    rng = np.random.default_rng(2)
    model.compute_loss(rng.standard_normal((5, 3)), rng.integers(0, 2, 5))
    model.backward()
    d = model.layers
    expected = np.concatenate([d[0].grads["W"].ravel(), d[0].grads["b"],
                               d[2].grads["gamma"], d[2].grads["beta"],
                               d[4].grads["W"].ravel(), d[4].grads["b"]])
    assert_array_equal(model.get_flat_grads(), expected)
    assert np.count_nonzero(expected) > 20


@pytest.mark.parametrize("index, layer_index, layer_name, param, entry", [
    (0, 0, "Dense", "W", (0, 0)),
    (5, 0, "Dense", "W", (1, 1)),  # row-major: 5 = 1 * 4 + 1
    (11, 0, "Dense", "W", (2, 3)),
    (12, 0, "Dense", "b", (0,)),
    (15, 0, "Dense", "b", (3,)),
    (16, 2, "BatchNorm", "gamma", (0,)),
    (23, 2, "BatchNorm", "beta", (3,)),
    (29, 4, "Dense", "W", (2, 1)),  # 29 - 24 = 5 = 2 * 2 + 1
    (33, 4, "Dense", "b", (1,)),
])
def test_locate_maps_a_flat_index_to_layer_param_and_entry(index, layer_index, layer_name,
                                                           param, entry):
    slot, where = P.locate(small_model().slots(), index)
    assert (slot.layer_index, slot.layer_name, slot.param, where) == \
        (layer_index, layer_name, param, entry)
    assert slot.name == f"{layer_index}.{param}"


def test_locate_agrees_with_the_flat_vector_at_every_index():
    model = randomize(small_model())
    flat, slots = model.get_flat_params(), model.slots()
    for i in range(flat.size):
        slot, entry = P.locate(slots, i)
        assert model.layers[slot.layer_index].params[slot.param][entry] == flat[i]


@pytest.mark.parametrize("index", [-1, 34, 1000])
def test_locate_outside_the_vector_raises_index_error(index):
    with pytest.raises(IndexError, match=r"outside 0\.\.33"):
        P.locate(small_model().slots(), index)


def test_slots_tile_the_flat_vector_without_gaps():
    slots = small_model().slots()
    assert [s.start for s in slots] == [0, 12, 16, 20, 24, 32]
    assert [s.stop for s in slots] == [12, 16, 20, 24, 32, 34]
    assert [s.shape for s in slots] == [(3, 4), (4,), (4,), (4,), (4, 2), (2,)]


@pytest.mark.parametrize("v, message", [
    (np.zeros(33), "expected a 1-D vector of 34 values, got shape (33,)"),
    (np.zeros(35), "expected a 1-D vector of 34 values, got shape (35,)"),
    (np.zeros((2, 17)), "expected a 1-D vector of 34 values, got shape (2, 17)"),
    (np.r_[np.zeros(33), np.nan], "finite floating-point values"),
    (np.r_[np.inf, np.zeros(33)], "finite floating-point values"),
    (np.r_[np.zeros(33), np.nan, 0.0], "finite floating-point values"),
])
def test_set_flat_params_rejects_a_bad_vector_and_changes_nothing(v, message):
    model = randomize(small_model())
    before = model.get_flat_params()
    with pytest.raises(ValueError) as e:
        model.set_flat_params(v)
    assert message in str(e.value)
    assert_array_equal(model.get_flat_params(), before)


def test_flatten_and_unflatten_round_trip():
    arrays = [np.arange(6.0).reshape(2, 3), np.array([7.0]), np.zeros((2, 2))]
    v = P.flatten(arrays)
    assert_array_equal(v, [0, 1, 2, 3, 4, 5, 7, 0, 0, 0, 0])
    targets = [np.empty_like(a) for a in arrays]
    P.unflatten(v, targets)
    for a, t in zip(arrays, targets, strict=True):
        assert_array_equal(t, a)


def test_model_without_params_has_an_empty_flat_vector():
    model = mn.Model([mn.ReLU()], loss=mn.MSE())
    assert model.get_flat_params().shape == (0,)
    model.set_flat_params(np.zeros(0))
