"""Blocks (Sequential, Residual) are layers: by hand, against the same layers unnested, and in
everything that handles a layer (Model, optimizers, flat parameters, save / load, the checker)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from shortcuts import assert_nudged_is_forward_with_each_entry_moved

import minnet as mn


def randomized(model_or_layer, seed=7):
    rng = np.random.default_rng(seed)
    for p in model_or_layer.params.values() if isinstance(model_or_layer, mn.Layer) \
            else model_or_layer.parameters():
        p[...] = rng.standard_normal(p.shape)
    return model_or_layer


def nested_model(dropout=0.0):
    """Dense - Sequential(Dense, Residual(BatchNorm, Tanh, Dense)) - Dense: a block in a block."""
    inner = mn.Residual(mn.BatchNorm(5), mn.Tanh(), mn.Dense(5, 5, seed=2),
                        *([mn.Dropout(dropout, seed=9)] if dropout else []))
    return mn.Model([mn.Dense(4, 6, seed=0), mn.Sequential(mn.Dense(6, 5, seed=1), inner),
                     mn.Dense(5, 3, seed=3)], loss=mn.SoftmaxCE())


def flat_twin(model):
    """The same function as nested_model without blocks: the skip written out by hand is not
    possible in a flat Model, so only the Sequential is unnested (the Residual is kept)."""
    seq = model.layers[1]
    return mn.Model([model.layers[0], *seq.layers, model.layers[2]], loss=mn.SoftmaxCE())


def data(n=8, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, 3, n)


# ---- by hand ------------------------------------------------------------------------------


def test_residual_forward_and_backward_by_hand():
    dense = mn.Dense(2, 2)
    dense.params["W"][...] = [[1.0, 2.0], [3.0, 4.0]]
    dense.params["b"][...] = [0.5, -0.5]
    block = mn.Residual(dense)
    x = np.array([[1.0, -1.0]])
    # f(x) = x W + b = [1 - 3 + 0.5, 2 - 4 - 0.5] = [-1.5, -2.5];  y = x + f(x) = [-0.5, -3.5]
    assert_array_equal(block.forward(x), [[-0.5, -3.5]])
    dout = np.array([[1.0, 2.0]])
    # dx = dout + dout Wᵀ = [1, 2] + [1 + 4, 3 + 8] = [6, 13]: the skip path adds dout
    assert_array_equal(block.backward(dout), [[6.0, 13.0]])
    # the inner layer's own gradients are untouched by the skip: dW = xᵀ dout, db = dout
    assert_array_equal(block.grads["0.W"], [[1.0, 2.0], [-1.0, -2.0]])
    assert_array_equal(block.grads["0.b"], [1.0, 2.0])


def test_sequential_is_its_layers_in_order():
    a, b = mn.Dense(3, 4, seed=0), mn.Dense(4, 2, seed=1)
    x, dout = np.random.default_rng(0).standard_normal((5, 3)), np.ones((5, 2))
    block = mn.Sequential(a, mn.Tanh(), b)
    y = block.forward(x)
    assert_array_equal(y, b.forward(np.tanh(a.forward(x))))
    dx = block.backward(dout)
    assert_allclose(dx, ((dout @ b.params["W"].T) * (1 - np.tanh(a.forward(x)) ** 2))
                    @ a.params["W"].T)


def test_params_and_grads_are_the_inner_arrays_keyed_by_path():
    block = mn.Sequential(mn.Dense(2, 2, seed=0), mn.Residual(mn.Tanh(), mn.Dense(2, 2, seed=1)))
    assert list(block.params) == ["0.W", "0.b", "1.1.W", "1.1.b"]
    assert isinstance(block.params, dict) and isinstance(block.grads, dict)  # as any layer's
    assert block.params["1.1.W"] is block.layers[1].layers[1].params["W"]
    block.forward(np.ones((3, 2)))
    block.backward(np.ones((3, 2)))
    # backward binds new arrays to the inner grads; the block reads them on access
    assert block.grads["1.1.W"] is block.layers[1].layers[1].grads["W"]
    assert block.grads["1.1.W"].any()


def test_a_model_names_parameters_by_path():
    model = nested_model()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.W", "0.b", "1.0.W", "1.0.b", "1.1.0.gamma", "1.1.0.beta", "1.1.2.W",
                     "1.1.2.b", "2.W", "2.b"]
    assert [s.name for s in model.slots()] == names


# ---- the same function as the layers unnested --------------------------------------------


def test_a_sequential_block_computes_what_its_layers_compute_unnested():
    model = randomized(nested_model())
    twin = flat_twin(model)
    X, y = data()
    assert model.compute_loss(X, y) == twin.compute_loss(X, y)
    model.backward()
    g = model.get_flat_grads()
    twin.backward()
    assert_array_equal(g, twin.get_flat_grads())


def test_blocks_pass_the_gradient_check_nested():
    model = randomized(nested_model(dropout=0.3))
    report = mn.GradientChecker(progress=False, mode="full").check(model, *data())
    assert report.passed, str(report)
    assert {f"{c.layer_index}.{c.param}" for c in report.params} >= {"1.1.2.W", "1.1.0.gamma"}


@pytest.mark.parametrize("block", [
    lambda: mn.Residual(mn.LayerNorm(5), mn.Dense(5, 5, seed=0), mn.GELU()),
    lambda: mn.Sequential(mn.Dense(5, 4, seed=0), mn.Residual(mn.Tanh(), mn.Dense(4, 4, seed=1))),
], ids=["residual", "sequential in sequential"])
def test_check_layer_passes_a_correct_block(block):
    layer = randomized(block())
    x = np.random.default_rng(1).standard_normal((6, 5))
    result = mn.check_layer(layer, x)
    assert result.passed, str(result)
    assert result.input_rel_error < 1e-7


def test_nudged_of_a_block_equals_forward_with_the_entry_moved():
    block = randomized(mn.Residual(mn.LayerNorm(4), mn.Dense(4, 6, seed=0), mn.GELU(),
                                   mn.Dense(6, 4, seed=1)))
    x = np.random.default_rng(2).standard_normal((3, 5, 4))
    assert_nudged_is_forward_with_each_entry_moved(block, x, atol=1e-12)


# ---- what handles a layer handles a block ------------------------------------------------


def test_optimizers_update_the_inner_arrays():
    model = randomized(nested_model())
    X, y = data()
    before = model.get_flat_params()
    model.compute_loss(X, y)
    model.backward()
    g = model.get_flat_grads()
    mn.SGD(0.1).step(model)
    assert_allclose(model.get_flat_params(), before - 0.1 * g)


def test_flat_parameters_round_trip():
    model = nested_model()
    v = np.arange(model.get_flat_params().size, dtype=float)
    model.set_flat_params(v)
    assert_array_equal(model.get_flat_params(), v)
    assert model.layers[1].layers[1].layers[2].params["b"][0] == v[model.slots()[7].start]


def test_save_and_load_rebuild_the_nesting_bit_for_bit(tmp_path):
    model = randomized(nested_model(dropout=0.2))
    X, y = data()
    model.fit(X, y, epochs=2, batch_size=4, progress=False)  # running statistics move
    model.save(tmp_path / "m.npz")
    back = mn.Model.load(tmp_path / "m.npz")
    assert repr(back) == repr(model)
    for (n1, a), (n2, b) in zip(model._arrays().items(), back._arrays().items()):
        assert n1 == n2
        assert_array_equal(a, b)
    assert "1.1.0.running_mean" in back._arrays()
    assert_array_equal(back.predict(X), model.predict(X))


def test_load_names_an_unknown_layer_inside_a_block(tmp_path):
    class Mine(mn.Tanh):
        pass

    model = mn.Model([mn.Dense(4, 3, seed=0), mn.Residual(Mine())], loss=mn.SoftmaxCE())
    model.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"cannot rebuild \['Mine'\]"):
        mn.Model.load(tmp_path / "m.npz")


def test_astype_reaches_every_inner_array():
    model = nested_model().astype(np.float32)
    assert {a.dtype for a in model._arrays().values()} == {np.dtype(np.float32)}
    assert all(g.dtype == np.float32 for g in model.gradients())
    X, y = data()
    model.compute_loss(X, y)
    model.backward()
    assert all(g.dtype == np.float32 for g in model.gradients())


def test_training_flag_and_freeze_reach_the_inner_layers():
    model = nested_model(dropout=0.5)
    bn, drop = model.layers[1].layers[1].layers[0], model.layers[1].layers[1].layers[3]
    model.eval()
    assert not bn.training and not drop.training and not model.layers[1].training
    model.train()
    assert bn.training and drop.training and model.layers[1].training
    model.layers[1].freeze()
    assert drop.frozen and bn.frozen


def test_a_block_first_in_a_model_skips_only_what_nobody_reads():
    block = mn.Residual(mn.Dense(4, 4, seed=0), mn.Tanh())
    model = mn.Model([block, mn.Dense(4, 3, seed=1)], loss=mn.SoftmaxCE())
    assert not block.input_grad and not block.layers[0].input_grad
    assert block.layers[1].input_grad
    X, y = data()
    model.compute_loss(X, y)
    assert block.backward(np.ones((8, 4))) is None
    model.backward()  # the inner Dense still gets its gradients
    assert block.grads["0.W"].any()
    assert mn.check_layer(block, X).passed  # alone, its input gradient is checked again


def test_a_user_layer_first_in_a_block_keeps_its_input_gradient():
    class MyDense(mn.Dense):
        def backward(self, dout):
            return 1.0 * super().backward(dout)  # needs super()'s dx

    block = mn.Sequential(MyDense(4, 4, seed=0))
    mn.Model([block, mn.Dense(4, 3, seed=1)], loss=mn.SoftmaxCE())
    assert not block.input_grad and block.layers[0].input_grad


def test_repr_shows_the_nesting():
    text = repr(nested_model())
    assert "  (1) Sequential(\n    (0) Dense(in_features=6" in text
    assert "    (1) Residual(\n      (0) BatchNorm(num_features=5" in text


# ---- shapes and bad input ------------------------------------------------------------------


def test_width_checks_follow_the_layers_inside_blocks():
    with pytest.raises(ValueError, match=r"layer 1\.1 \(Dense\(in_features=5.*expects 5 "
                                         r"features, but the layers before it produce 6"):
        mn.Model([mn.Dense(4, 6), mn.Sequential(mn.Tanh(), mn.Dense(5, 3))], loss=mn.MSE())


def test_a_residual_that_changes_the_shape_is_refused():
    with pytest.raises(ValueError, match=r"layer 1 \(Residual\) adds its input .* shape "
                                         r"\(N, 6\), but they produce \(N, 3\)"):
        mn.Model([mn.Dense(4, 6), mn.Residual(mn.Dense(6, 3))], loss=mn.MSE())


def test_the_output_width_is_known_after_a_block():
    model = mn.Model([mn.Dense(4, 6), mn.Residual(mn.Tanh())], loss=mn.SoftmaxCE())
    assert model.n_outputs == 6 and model.n_inputs == 4
    first = mn.Model([mn.Sequential(mn.Dense(4, 6)), mn.Dense(6, 2)], loss=mn.SoftmaxCE())
    assert first.n_inputs == 4


@pytest.mark.parametrize("make, error, message", [
    (lambda: mn.Residual(), ValueError, "Residual needs at least one layer"),
    (lambda: mn.Sequential(mn.Dense(2, 2), "tanh"), TypeError, r"layer 1 \('tanh'\) is not a "
                                                               r"Layer"),
], ids=["empty", "not a layer"])
def test_bad_blocks_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_shape_error_inside_a_block_names_the_inner_layer():
    block = mn.Sequential(mn.Tanh(), mn.Dense(3, 2))
    with pytest.raises(ValueError, match=r"layer 1 of Sequential: Dense\(in_features=3.*got "
                                         r"\(2, 5\)"):
        block.forward(np.ones((2, 5)))


def test_an_array_shared_by_layers_in_blocks_is_one_parameter_through_astype_and_load(tmp_path):
    a, b = mn.Dense(4, 4, seed=0), mn.Dense(4, 4, seed=1)
    model = mn.Model([mn.Residual(a, mn.Tanh()), mn.Sequential(mn.Residual(b)),
                      mn.Dense(4, 2, seed=2)], loss=mn.SoftmaxCE())
    model.layers[1].params["0.0.W"] = model.layers[0].params["0.W"]  # b's W is a's
    assert b.params["W"] is a.params["W"]
    assert [n for n, _ in model.named_parameters()] == ["0.0.W", "0.0.b", "1.0.0.b", "2.W",
                                                        "2.b"]
    model.astype(np.float32)
    assert b.params["W"] is a.params["W"] and a.params["W"].dtype == np.float32
    model.save(tmp_path / "m.npz")
    back = mn.Model.load(tmp_path / "m.npz")
    inner = back.layers[1].layers[0].layers[0]
    assert inner.params["W"] is back.layers[0].layers[0].params["W"]


def test_the_l2_term_reaches_the_dense_layers_inside_blocks_and_the_check_agrees():
    """0.5·l2·Σ W² over every Dense weight, nested ones too: the penalty, its gradient, and a
    check of the model's loss with it."""
    inner = mn.Dense(4, 4, seed=1)
    model = mn.Model([mn.Dense(3, 4, seed=0), mn.Residual(inner, mn.Tanh()),
                      mn.Dense(4, 2, seed=2)], loss=mn.SoftmaxCE(), l2=0.1)
    Ws = [model.layers[0].params["W"], inner.params["W"], model.layers[2].params["W"]]
    assert model.penalty() == pytest.approx(0.05 * sum(float((W**2).sum()) for W in Ws))
    X, y = np.random.default_rng(0).standard_normal((5, 3)), np.arange(5) % 2
    assert mn.GradientChecker(progress=False).check(model, X, y).passed
