"""Conv2D, MaxPool2D, Flatten, LayerNorm and SVMLoss: shapes, bad input, stacks, gradient checks,
and conv nets in a Model (widths, save / load, float32)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minnet as mn
from minnet.datasets import load_digits


def rand(shape, seed=0):
    return np.random.default_rng(seed + 100).standard_normal(shape)


def conv_net(loss=None, norm=False, c=2, size=6, seed=0):
    """Conv2D(c, 3, 3, padding=1) - [LayerNorm(size)] - ReLU - MaxPool2D(2) - Flatten - Dense."""
    layers = [mn.Conv2D(c, 3, 3, padding=1, seed=seed), *([mn.LayerNorm(size)] if norm else []),
              mn.ReLU(), mn.MaxPool2D(2), mn.Flatten(),
              mn.Dense(3 * (size // 2) ** 2, 4, seed=seed + 1)]
    return mn.Model(layers, loss=loss or mn.SoftmaxCE())


def images(n=8, c=2, size=6, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c, size, size)), rng.integers(0, classes, n)


# ---- shapes and bad input -----------------------------------------------------------------


@pytest.mark.parametrize("shape, k, stride, padding, out", [
    ((2, 3, 8, 8), 3, 1, 0, (2, 5, 6, 6)), ((2, 3, 8, 8), 3, 1, 1, (2, 5, 8, 8)),
    ((1, 3, 7, 9), 3, 2, 1, (1, 5, 4, 5)), ((4, 3, 5, 5), 5, 1, 0, (4, 5, 1, 1)),
])
def test_conv2d_output_shape_is_h_plus_2p_minus_k_over_stride_plus_1(shape, k, stride, padding,
                                                                     out):
    layer = mn.Conv2D(3, 5, k, stride=stride, padding=padding, seed=0)
    assert layer.forward(rand(shape)).shape == out
    assert layer.output_shape(shape[1:]) == out[1:]
    assert layer.params["W"].shape == (5, 3, k, k) and layer.params["b"].shape == (5,)


def test_conv2d_by_hand():
    """One 3x3 image, one 2x2 kernel: each output is the sum of a window times the kernel."""
    layer = mn.Conv2D(1, 1, 2)
    layer.params["W"][...] = [[[[1.0, 2.0], [3.0, 4.0]]]]
    layer.params["b"][...] = 0.5
    x = np.arange(9.0).reshape(1, 1, 3, 3)  # [[0 1 2] [3 4 5] [6 7 8]]
    # top left: 0*1 + 1*2 + 3*3 + 4*4 = 27; each step right adds 1+2+3+4 = 10, down 3*10
    assert_array_equal(layer.forward(x), [[[[27.5, 37.5], [57.5, 67.5]]]])
    # dW = Σ dy · window: with dy = 1 everywhere, the sum of the 4 windows
    layer.backward(np.ones((1, 1, 2, 2)))
    assert_array_equal(layer.grads["W"], [[[[8.0, 12.0], [20.0, 24.0]]]])
    assert_array_equal(layer.grads["b"], [4.0])


def test_maxpool2d_and_flatten_by_hand():
    x = np.array([[[[1.0, 5.0, 2.0, 0.0],
                    [3.0, 4.0, 7.0, 7.0],
                    [0.0, 0.0, 1.0, 2.0],
                    [9.0, 0.0, 3.0, 3.0]]]])
    pool = mn.MaxPool2D(2)
    assert_array_equal(pool.forward(x), [[[[5.0, 7.0], [9.0, 3.0]]]])
    # the tie 7, 7 and 3, 3: the first in the window (row by row) takes the gradient
    assert_array_equal(pool.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]])),
                       [[[[0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0]]]])
    flat = mn.Flatten()
    assert_array_equal(flat.forward(x), x.reshape(1, 16))
    assert flat.backward(np.ones((1, 16))).shape == x.shape


def test_layernorm_by_hand():
    layer = mn.LayerNorm(2, eps=1e-12)
    # each row is (a, b): mean (a+b)/2, std |a-b|/2, so x̂ = (-1, 1) or (1, -1)
    y = layer.forward(np.array([[1.0, 3.0], [10.0, -10.0]]))
    assert_allclose(y, [[-1.0, 1.0], [1.0, -1.0]], rtol=1e-10)


@pytest.mark.parametrize("make, message", [
    (lambda: mn.Conv2D(0, 2, 3), "Conv2D: in_channels must be a positive integer, got 0"),
    (lambda: mn.Conv2D(1, 2, 3, stride=0), "Conv2D: stride must be a positive integer"),
    (lambda: mn.Conv2D(1, 2, 3, padding=-1), "Conv2D: padding must be an integer >= 0"),
    (lambda: mn.Conv2D(1, 2, 2.5), "kernel_size must be a positive integer, got 2.5"),
    (lambda: mn.Conv2D(1, 2, 3, init="zeros"), "Conv2D: unknown init 'zeros'"),
    (lambda: mn.MaxPool2D(0), "MaxPool2D: kernel_size must be a positive integer"),
    (lambda: mn.LayerNorm(0), "LayerNorm: num_features must be a positive integer"),
    (lambda: mn.LayerNorm(3, eps=0), "LayerNorm: eps must be > 0"),
])
def test_bad_constructor_arguments_name_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("layer, x, message", [
    (mn.Conv2D(3, 2, 3), rand((2, 4, 5, 5)),
     r"Conv2D\(in_channels=3.*\(N, 3, H, W\).*\(2, 4, 5, 5\)"),
    (mn.Conv2D(3, 2, 3), rand((2, 3, 2, 5)), r"H, W >= 3, got \(2, 3, 2, 5\)"),
    (mn.Conv2D(3, 2, 3), rand((6, 3)), r"\(N, 3, H, W\).*got \(6, 3\)"),
    (mn.MaxPool2D(3), rand((2, 1, 2, 4)),
     r"MaxPool2D\(kernel_size=3.*H, W >= 3, got \(2, 1, 2, 4\)"),
    (mn.LayerNorm(4), rand((2, 3)), r"LayerNorm\(num_features=4.*\(N, 4\), got \(2, 3\)"),
    (mn.Flatten(), rand(3), r"Flatten\(\) expects input of shape \(N, ...\), got \(3,\)"),
])
def test_bad_input_shapes_name_the_layer_and_the_shapes(layer, x, message):
    with pytest.raises(ValueError, match=message):
        layer.forward(x)


def test_conv2d_seed_gives_the_same_weights_and_he_scale():
    a, b = mn.Conv2D(8, 16, 3, seed=1), mn.Conv2D(8, 16, 3, seed=1)
    for name in ("W", "b"):
        assert_array_equal(a.params[name], b.params[name])
        assert not np.array_equal(a.params[name], mn.Conv2D(8, 16, 3, seed=2).params[name])
    big = mn.Conv2D(50, 1000, 3, seed=0)  # 450 000 weights, 1 000 biases
    assert big.params["W"].std() == pytest.approx(np.sqrt(2 / (50 * 9)), rel=0.02)
    bound = 1 / np.sqrt(50 * 9)  # PyTorch's default bias: U(-1/√fan_in, 1/√fan_in)
    assert np.abs(big.params["b"]).max() <= bound
    assert big.params["b"].std() == pytest.approx(bound / np.sqrt(3), rel=0.1)


def test_a_conv_net_on_the_digits_has_every_conv_bias_checked():
    """Blank backgrounds: with b = 0 each blank window would sit on ReLU's corner, where the
    checker can only skip it; the PyTorch-style bias init keeps those windows off it."""
    X, y = load_digits(images=True)
    model = mn.Model([mn.Conv2D(1, 16, 3, padding=1, seed=0), mn.ReLU(), mn.MaxPool2D(2),
                      mn.Flatten(), mn.Dense(256, 10, seed=1)], loss=mn.SoftmaxCE())
    report = mn.GradientChecker(progress=False).check(model, X[:32], y[:32])
    assert report.passed and report.params[1].checked == 16 and report.params[1].kinks == 0


# ---- stacks: what `stackable` promises ------------------------------------------------------


@pytest.mark.parametrize("layer, shape", [
    (mn.Conv2D(2, 3, 3, stride=2, padding=1, seed=0), (4, 2, 7, 6)),
    (mn.Conv2D(2, 3, 1, seed=0), (4, 2, 3, 3)),
    (mn.MaxPool2D(2), (4, 2, 6, 7)),
    (mn.MaxPool2D(3, 1), (3, 1, 5, 5)),
    (mn.LayerNorm(5), (4, 3, 5)),
    (mn.LayerNorm(5), (4, 2, 3, 5)),
], ids=["conv", "conv1x1", "pool", "pool_overlap", "layernorm", "layernorm_images"])
def test_stackable_layers_give_on_a_stack_what_k_single_calls_give(layer, shape):
    assert layer.stackable
    stack = rand((3, *shape))
    one_call = layer.forward(stack)
    each = np.stack([layer.forward(x) for x in stack])
    assert_allclose(one_call, each, rtol=1e-13, atol=1e-13)


def test_flatten_is_not_stackable_and_the_smooth_hints_are_right():
    """Flatten cannot tell a stack (K, N, C, H, W) from a batch; max pooling has corners."""
    assert not mn.Flatten.stackable
    assert mn.Conv2D.smooth and mn.Flatten.smooth and mn.LayerNorm.smooth
    assert not mn.MaxPool2D.smooth and mn.MaxPool2D.kink is None


# ---- gradient checks ------------------------------------------------------------------------


@pytest.mark.parametrize("layer, shape", [
    (mn.Conv2D(2, 3, 3, seed=0), (3, 2, 6, 6)),
    (mn.Conv2D(2, 3, 3, stride=2, padding=1, seed=0), (3, 2, 7, 6)),
    (mn.Conv2D(3, 2, 2, stride=3, padding=2, seed=0), (2, 3, 5, 5)),
    (mn.Conv2D(1, 4, 1, seed=0), (2, 1, 4, 4)),
    (mn.MaxPool2D(2), (3, 2, 6, 6)),
    (mn.MaxPool2D(3, 1), (2, 2, 5, 5)),
    (mn.MaxPool2D(2), (2, 1, 5, 7)),
    (mn.Flatten(), (3, 2, 4, 4)),
    (mn.LayerNorm(6), (5, 6)),
    (mn.LayerNorm(6), (3, 2, 6, 6)),
], ids=lambda v: repr(v) if isinstance(v, mn.Layer) else None)
@pytest.mark.parametrize("mode", ["auto", "full", "sample"])
def test_check_layer_passes_every_new_layer(layer, shape, mode):
    if isinstance(layer, mn.LayerNorm):
        layer.params["gamma"] = rand(layer.num_features, seed=1)
        layer.params["beta"] = rand(layer.num_features, seed=2)
    result = mn.check_layer(layer, rand(shape, seed=len(shape)), mode=mode)
    assert result.passed, str(result)
    assert result.input.checked > 0


def test_check_layer_passes_svm_loss():
    scores, y = rand((6, 4)), np.random.default_rng(0).integers(0, 4, 6)
    result = mn.check_layer(mn.SVMLoss(), scores, y=y)
    assert result.passed and result.input.checked == 24


@pytest.mark.parametrize("mode", ["full", "sample", "directional", "auto"])
@pytest.mark.parametrize("loss, norm", [(mn.SoftmaxCE, False), (mn.SVMLoss, True)],
                         ids=["softmax", "svm_layernorm"])
def test_gradient_checker_passes_a_conv_net_in_every_mode(mode, loss, norm):
    X, y = images()
    report = mn.GradientChecker(mode=mode, progress=False).check(conv_net(loss(), norm), X, y)
    assert report.passed, str(report)
    assert all(c.checked > 0 for c in report.params)


@pytest.mark.parametrize("mode", ["full", "sample", "directional"])
def test_gradient_checker_catches_a_planted_conv_bug_in_every_mode(mode):
    class ConvSignFlipped(mn.Conv2D):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["W"] = -self.grads["W"]
            return dx

    model = conv_net()
    model.layers[0] = ConvSignFlipped(2, 3, 3, padding=1, seed=0)
    report = mn.GradientChecker(mode=mode, progress=False).check(model, *images())
    assert not report.passed
    assert [s.layer_index for s in report.suspects] == [0]


def test_max_pool_ties_and_near_ties_are_kinks_left_out_of_the_verdict():
    """A 1x1 convolution that adds its three channels (W = 1) feeds a 2x2 max pool.

    In each sample, one window's max is a tie of (2, 0, c) and (0, 2, c), another's a near tie
    (1e-9 apart). Moving W[0] or W[1] by ±eps breaks the tie one way, then the other: a corner,
    where the centered difference means nothing. W[2] moves both alike, so it is checked.
    """
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, -1, (4, 3, 4, 4))
    X[:, 2] = rng.uniform(0, 1, (4, 4, 4))
    X[:, :2, 0, 0], X[:, :2, 1, 1] = [2.0, 0.0], [0.0, 2.0]  # exact tie in the top left
    X[:, 2, 1, 1] = X[:, 2, 0, 0]
    X[:, :2, 2, 2], X[:, :2, 3, 3] = [2.0, 0.0], [0.0, 2.0 + 1e-9]  # near tie, bottom right
    X[:, 2, 3, 3] = X[:, 2, 2, 2]
    conv = mn.Conv2D(3, 1, 1)
    conv.params["W"][...] = 1.0
    conv.params["b"][...] = 0.0
    model = mn.Model([conv, mn.MaxPool2D(2), mn.Flatten(), mn.Dense(4, 3, seed=0)],
                     loss=mn.SoftmaxCE())
    report = mn.GradientChecker(mode="full", progress=False).check(model, X, [0, 1, 2, 0])
    assert report.passed, str(report)
    W = report.params[0]
    assert W.kinks == 2 and W.checked == 1  # W[0] and W[1] are kinks, W[2] is compared
    # the layer alone, on the tied input: ties found and left out, the rest compared
    alone = mn.check_layer(mn.MaxPool2D(2), conv.forward(X))
    assert alone.passed and alone.input.kinks > 0 and alone.input.checked > 0


def test_svm_corners_mark_exactly_where_forward_bends():
    """Along a line through the scores, SVMLoss is straight unless a corner value changes sign."""
    rng = np.random.default_rng(3)
    scores, y = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    loss, u = mn.SVMLoss(), rng.standard_normal((5, 4))
    m = loss.corners(scores, y)
    assert np.isinf(m[np.arange(5), y]).all() and np.isfinite(m).sum() == 15
    values = loss.values(np.stack([scores + t * u for t in (-1e-6, 0, 1e-6)]), y)
    assert values[0] - 2 * values[1] + values[2] == pytest.approx(0, abs=1e-12)  # no corner near
    # put sample 0, class j on its corner: the margin s_j - s_y + 1 is exactly 0 there
    j = (y[0] + 1) % 4
    scores[0, j] = scores[0, y[0]] - 1.0
    assert loss.corners(scores, y)[0, j] == 0.0
    e = np.zeros_like(scores)
    e[0, j] = 1e-6
    left, mid, right = loss.values(np.stack([scores - e, scores, scores + e]), y)
    assert (right - mid) / 1e-6 == pytest.approx(1 / 5, rel=1e-6)  # slope 1/N on one side
    assert (mid - left) / 1e-6 == pytest.approx(0, abs=1e-9)  # 0 on the other


# ---- conv nets in a Model ------------------------------------------------------------------


def digits_net():
    return mn.Model([mn.Conv2D(1, 4, 3, padding=1, seed=0), mn.ReLU(), mn.MaxPool2D(2),
                     mn.Flatten(), mn.Dense(64, 10, seed=1)], loss=mn.SoftmaxCE())


def test_load_digits_as_images():
    X, y = load_digits(images=True)
    flat, y2 = load_digits()
    assert X.shape == (1797, 1, 8, 8)
    assert_array_equal(X.reshape(1797, 64), flat)
    assert_array_equal(y, y2)


def test_conv_net_takes_images_and_reports_its_shapes():
    model = digits_net()
    assert model.input_shape == (1, None, None) and model.n_outputs == 10
    X, y = load_digits(images=True)
    assert model.forward(X[:5]).shape == (5, 10)
    assert np.isfinite(model.compute_loss(X[:5], y[:5]))
    assert "(0) Conv2D(in_channels=1, out_channels=4, kernel_size=3, stride=1, padding=1" \
        in repr(model)
    assert "(2) MaxPool2D(kernel_size=2, stride=2)" in repr(model)
    assert "(3) Flatten()" in repr(model)


def test_widths_are_checked_across_conv_pool_flatten_and_dense():
    with pytest.raises(ValueError, match=r"layer 2 \(Conv2D\(in_channels=8.*\) expects input of "
                                         r"shape \(N, 8, H, W\), but the layers before it "
                                         r"produce \(N, 4, H, W\)"):
        mn.Model([mn.Conv2D(1, 4, 3), mn.ReLU(), mn.Conv2D(8, 2, 3)], loss=mn.SoftmaxCE())
    with pytest.raises(ValueError, match=r"layer 1 \(Conv2D.*\(N, 4, H, W\).*produce \(N, 10\)"):
        mn.Model([mn.Dense(5, 10), mn.Conv2D(4, 2, 3)], loss=mn.SoftmaxCE())
    with pytest.raises(ValueError, match=r"layer 2 \(MaxPool2D.*\(N, C, H, W\).*produce \(N, 7\)"):
        mn.Model([mn.Dense(5, 7), mn.ReLU(), mn.MaxPool2D(2)], loss=mn.SoftmaxCE())
    # image sizes become known with the data: then the Dense width is checked, before any step
    model = mn.Model([mn.Conv2D(1, 4, 3), mn.ReLU(), mn.MaxPool2D(2), mn.Flatten(),
                      mn.Dense(64, 10, seed=1)], loss=mn.SoftmaxCE())
    X, y = load_digits(images=True)
    before = model.get_flat_params()
    with pytest.raises(ValueError, match=r"layer 4 \(Dense\(in_features=64.*\) expects 64 "
                                         r"features, but the layers before it produce 36"):
        model.fit(X[:40], y[:40], epochs=1, progress=False)
    assert_array_equal(model.get_flat_params(), before)
    with pytest.raises(ValueError, match=r"layer 2 \(MaxPool2D.*\): an input of 1x1 is too small"):
        model.compute_loss(X[:4, :, :3, :3], y[:4])


def test_a_pooling_layer_of_ones_own_may_come_before_flatten():
    """Its output shape is unknown until data flows: Flatten then cannot tell its width."""
    class Halve(mn.Layer):
        def forward(self, x):
            return x[..., ::2, ::2]

    model = mn.Model([mn.Conv2D(1, 4, 3, padding=1, seed=0), Halve(), mn.Flatten(),
                      mn.Dense(64, 10, seed=1)], loss=mn.SoftmaxCE())
    X, y = load_digits(images=True)
    assert model.forward(X[:3]).shape == (3, 10)
    with pytest.raises(ValueError, match=r"layer 3: Dense.* expects input of shape "
                                         r"\(N, \.\.\., 64\), got \(3, 36\)"):
        model.forward(X[:3, :, :6, :6])


@pytest.mark.parametrize("X, message", [
    (np.ones((4, 64)), r"layer 0 \(Conv2D\(in_channels=1.*\) expects input of shape "
                       r"\(N, 1, H, W\), got \(4, 64\)"),
    (np.ones((4, 3, 8, 8)), r"\(N, 1, H, W\), got \(4, 3, 8, 8\)"),
])
def test_wrong_image_input_is_rejected_with_the_shapes(X, message):
    with pytest.raises(ValueError, match=message):
        digits_net().compute_loss(X, np.zeros(4, dtype=int))


def test_a_dense_net_rejects_images_with_its_expected_shape():
    model = mn.Model([mn.Dense(64, 10)], loss=mn.SoftmaxCE())
    with pytest.raises(ValueError,
                       match=r"expects input of shape \(N, \.\.\., 64\), got \(3, 1, 8, 8\)"):
        model.compute_loss(np.ones((3, 1, 8, 8)), np.zeros(3, dtype=int))


def test_nan_in_an_image_is_located():
    X = np.ones((3, 1, 8, 8))
    X[1, 0, 2, 5] = np.nan
    with pytest.raises(ValueError, match=r"1 NaN or infinite values, the first at row 1, "
                                         r"index \(0, 2, 5\)"):
        digits_net().compute_loss(X, np.zeros(3, dtype=int))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_net_saves_and_loads_bit_exact(tmp_path, dtype):
    X, y = load_digits(images=True)
    model = mn.Model([mn.Conv2D(1, 4, 3, stride=1, padding=1, init="xavier", seed=0),
                      mn.LayerNorm(8), mn.ReLU(), mn.MaxPool2D(2, 2), mn.Flatten(),
                      mn.Dense(64, 10, seed=1)], loss=mn.SVMLoss(margin=0.5)).astype(dtype)
    model.fit(X[:64], y[:64], epochs=1, progress=False)
    model.save(tmp_path / "conv.npz")
    loaded = mn.Model.load(tmp_path / "conv.npz")
    assert repr(loaded) == repr(model)
    assert loaded.loss.margin == 0.5 and loaded.dtype == dtype
    for (name, p), (name2, q) in zip(model.named_parameters(), loaded.named_parameters(),
                                     strict=True):
        assert name == name2 and p.dtype == q.dtype
        assert_array_equal(p, q)
    assert_array_equal(model.predict(X[:50]), loaded.predict(X[:50]))
    assert_array_equal(model._scores(X[:50].astype(dtype)), loaded._scores(X[:50].astype(dtype)))


def test_float32_conv_net_trains_in_float32():
    X, y = load_digits(images=True)
    model = digits_net().astype(np.float32)
    model.fit(X[:64], y[:64], epochs=1, optimizer=mn.RMSProp(1e-3), progress=False)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert all(g.dtype == np.float32 for g in model.gradients())


def test_svm_loss_model_reports_accuracy_and_predicts_labels():
    X, y = load_digits(images=True)
    model = mn.Model(digits_net().layers, loss=mn.SVMLoss())
    history = model.fit(X[:200], y[:200], epochs=5, optimizer=mn.Adam(0.01), progress=False)
    assert history.accuracy[-1] is not None and history.accuracy[-1] > 0.5
    assert model.predict(X[:10]).shape == (10,)


def test_a_1x1_convolution_caches_its_own_copy_of_the_input():
    """With k = 1 the windows are x itself; a read-only view kept as cache would break any
    in-place use of it, such as the checker putting a layer's state back."""
    X, y = images()
    model = mn.Model([mn.Conv2D(2, 2, 1, seed=0), mn.Conv2D(2, 3, 1, seed=1), mn.Flatten(),
                      mn.Dense(108, 4, seed=2)], loss=mn.SoftmaxCE())
    model.compute_loss(X, y)
    assert all(layer.cols.flags.writeable and layer.cols.flags.owndata
               for layer in model.layers[:2])
    assert mn.GradientChecker(progress=False).check(model, X, y).passed


@pytest.mark.parametrize("name", ["W", "b"])
def test_conv2d_nudged_outputs_equal_forward_with_the_moved_parameter(name):
    layer = mn.Conv2D(2, 3, 3, stride=2, padding=1, seed=0)
    x = rand((4, 2, 7, 6))
    p = layer.params[name]
    index = np.array([0, p.size - 1, p.size // 2, 0])
    delta = np.array([1e-3, -2.0, 0.5, -1e-3])
    expected = []
    for i, d in zip(index, delta):
        p.flat[i] += d
        expected.append(layer.forward(x))
        p.flat[i] -= d
    assert_allclose(layer.nudged(x, name, index, delta), expected, rtol=1e-12, atol=1e-12)
    directions = rand((3, *p.shape), seed=5)
    moved = [layer.forward(x)]
    along = []
    for sign in (1, -1):
        for u in directions:
            layer.params[name] = p + sign * 1e-2 * u
            along.append(layer.forward(x))
    layer.params[name] = p
    assert_allclose(layer.nudged_along(x, name, directions, 1e-2), along, rtol=1e-12,
                    atol=1e-12)
    assert_array_equal(layer.forward(x), moved[0])  # and the parameters are as they were


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_conv_shortcuts_give_the_generic_paths_numbers(mode):
    X, y = images()
    model = conv_net(norm=True)
    fast, slow = (mn.GradientChecker(mode=mode, fast=f, progress=False).check(model, X, y)
                  for f in (True, False))
    assert fast.passed and slow.passed
    for a, b in zip(fast.params, slow.params, strict=True):
        assert (a.checked, a.kinks) == (b.checked, b.kinks) and a.checked > 0
    assert fast.difference == pytest.approx(slow.difference, abs=1e-8)
