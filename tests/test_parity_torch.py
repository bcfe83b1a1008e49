"""Every layer, loss and optimizer against PyTorch (float64), forward and backward.

Skipped as a whole when torch is not installed (pip install ".[torch]").
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minnet as mn

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-12, 1e-12
_rng = np.random.default_rng(2024)
SHAPES = [(1, 1), (2, 3), (5, 1), (16, 10)] + [  # (N, features): edge cases, then random ones
    tuple(_rng.integers(1, 50, 2).tolist()) for _ in range(4)]


def shapes(min_n=1):
    return [s for s in SHAPES if s[0] >= min_n]


def t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def numpy(a):
    return a.detach().numpy() if isinstance(a, torch.Tensor) else a


def close(actual, expected, rtol=RTOL, atol=ATOL):
    assert_allclose(numpy(actual), numpy(expected), rtol=rtol, atol=atol)


def data(shape, seed, scale=3.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) * scale, rng.standard_normal(shape)


# ---- layers -----------------------------------------------------------------------------


@pytest.mark.parametrize("make, torch_fn", [
    (mn.ReLU, F.relu),
    (lambda: mn.LeakyReLU(0.1), lambda x: F.leaky_relu(x, 0.1)),
    (lambda: mn.LeakyReLU(0.0), lambda x: F.leaky_relu(x, 0.0)),
    (mn.Sigmoid, torch.sigmoid),
    (mn.Tanh, torch.tanh),
], ids=["relu", "leaky_relu", "leaky_relu_0", "sigmoid", "tanh"])
@pytest.mark.parametrize("shape", SHAPES)
def test_activation_matches_torch(make, torch_fn, shape):
    x, dout = data(shape, seed=sum(shape))
    x[0, 0] = 0.0  # the kink of ReLU and LeakyReLU: both libraries take the left slope
    layer, xt = make(), t(x, grad=True)
    yt = torch_fn(xt)
    yt.backward(t(dout))
    close(layer.forward(x), yt)
    close(layer.backward(dout), xt.grad)


def test_sigmoid_saturates_like_torch():
    x = np.array([[-1000.0, -40.0, 0.0, 40.0, 1000.0]])
    layer, xt = mn.Sigmoid(), t(x, grad=True)
    yt = torch.sigmoid(xt)
    yt.backward(t(np.ones_like(x)))
    close(layer.forward(x), yt, rtol=1e-15, atol=0)
    close(layer.backward(np.ones_like(x)), xt.grad, rtol=1e-15, atol=0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("out", [1, 6])
def test_dense_matches_torch_linear_with_transposed_weight(shape, out):
    n, d = shape
    x, _ = data(shape, seed=n * out)
    dout = np.random.default_rng(d).standard_normal((n, out))
    layer = mn.Dense(d, out, seed=n)
    layer.params["b"] = np.random.default_rng(out).standard_normal(out)
    linear = torch.nn.Linear(d, out, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(t(layer.params["W"].T))  # torch keeps (out, in), minnet (in, out)
        linear.bias.copy_(t(layer.params["b"]))
    xt = t(x, grad=True)
    yt = linear(xt)
    yt.backward(t(dout))
    close(layer.forward(x), yt)
    close(layer.backward(dout), xt.grad)
    close(layer.grads["W"], linear.weight.grad.T)
    close(layer.grads["b"], linear.bias.grad)


@pytest.mark.parametrize("shape", [(2, 5, 3), (1, 1, 4), (3, 2, 2, 6)])
def test_dense_on_the_last_axis_matches_torch_linear(shape):
    x, _ = data(shape, seed=len(shape))
    layer = mn.Dense(shape[-1], 4, seed=1)
    layer.params["b"] = np.random.default_rng(2).standard_normal(4)
    dout = np.random.default_rng(3).standard_normal((*shape[:-1], 4))
    linear = torch.nn.Linear(shape[-1], 4, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(t(layer.params["W"].T))
        linear.bias.copy_(t(layer.params["b"]))
    xt = t(x, grad=True)
    yt = linear(xt)
    yt.backward(t(dout))
    close(layer.forward(x), yt)
    close(layer.backward(dout), xt.grad)
    close(layer.grads["W"], linear.weight.grad.T)
    close(layer.grads["b"], linear.bias.grad)


@pytest.mark.parametrize("init, torch_init", [("he", torch.nn.init.kaiming_normal_),
                                              ("xavier", torch.nn.init.xavier_normal_)])
def test_dense_init_scale_matches_torch(init, torch_init):
    """He: std sqrt(2 / in) (kaiming_normal_, fan_in, relu); Xavier: sqrt(2 / (in + out))."""
    n_in, n_out = 300, 500
    ours = mn.Dense(n_in, n_out, init=init, seed=0).params["W"].std()
    gen = torch.Generator().manual_seed(0)
    w = torch.empty(n_out, n_in, dtype=torch.float64)
    theirs = torch_init(w, generator=gen).std().item()
    # 150 000 draws: the sample std is within 1 % of the true one with overwhelming probability
    assert ours == pytest.approx(theirs, rel=0.01)


def torch_batchnorm(layer):
    bn = torch.nn.BatchNorm1d(layer.num_features, eps=layer.eps, momentum=1 - layer.momentum,
                              dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(t(layer.params["gamma"]))
        bn.bias.copy_(t(layer.params["beta"]))
    return bn


@pytest.mark.parametrize("shape", shapes(min_n=2))
def test_batchnorm_training_matches_torch_including_running_stats(shape):
    rng = np.random.default_rng(shape[0])
    layer = mn.BatchNorm(shape[1])
    layer.params["gamma"] = rng.standard_normal(shape[1])
    layer.params["beta"] = rng.standard_normal(shape[1])
    bn = torch_batchnorm(layer)
    bn.train()
    for step in range(3):
        x, dout = data(shape, seed=10 * shape[0] + step)
        x += rng.standard_normal(shape[1]) * 5  # a different mean per feature
        bn.zero_grad()
        xt = t(x, grad=True)
        yt = bn(xt)
        yt.backward(t(dout))
        close(layer.forward(x), yt, rtol=1e-10, atol=1e-10)
        close(layer.backward(dout), xt.grad, rtol=1e-9, atol=1e-9)
        close(layer.grads["gamma"], bn.weight.grad, rtol=1e-10, atol=1e-10)
        close(layer.grads["beta"], bn.bias.grad)
        close(layer.running_mean, bn.running_mean)
        close(layer.running_var, bn.running_var)


@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_eval_mode_matches_torch(shape):
    rng = np.random.default_rng(shape[0] + 100)
    layer = mn.BatchNorm(shape[1], momentum=0.8, eps=1e-3)
    layer.params["gamma"] = rng.standard_normal(shape[1])
    layer.params["beta"] = rng.standard_normal(shape[1])
    layer.running_mean[...] = rng.standard_normal(shape[1])
    layer.running_var[...] = rng.uniform(0.1, 4, shape[1])
    bn = torch_batchnorm(layer)
    with torch.no_grad():
        bn.running_mean.copy_(t(layer.running_mean))
        bn.running_var.copy_(t(layer.running_var))
    layer.training = False
    bn.eval()
    x, dout = data(shape, seed=shape[0])
    xt = t(x, grad=True)
    yt = bn(xt)
    yt.backward(t(dout))
    close(layer.forward(x), yt)
    close(layer.backward(dout), xt.grad)
    close(layer.grads["gamma"], bn.weight.grad)
    close(layer.grads["beta"], bn.bias.grad)
    close(layer.running_mean, bn.running_mean)  # eval mode leaves both alone
    close(layer.running_var, bn.running_var)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5])
def test_dropout_with_minnet_mask_applied_in_torch(shape, p):
    x, dout = data(shape, seed=shape[0])
    layer = mn.Dropout(p, seed=shape[1])
    y = layer.forward(x)
    mask = layer.mask
    xt = t(x, grad=True)
    yt = xt * t(mask)
    yt.backward(t(dout))
    close(y, yt, rtol=0, atol=0)
    close(layer.backward(dout), xt.grad, rtol=0, atol=0)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.75])
def test_dropout_scales_kept_entries_like_torch(p):
    x = np.ones((50, 40))
    ours = mn.Dropout(p, seed=0).forward(x)
    theirs = F.dropout(t(x), p=p, training=True).numpy()
    assert set(np.unique(ours)) == set(np.unique(theirs)) == {0.0, 1 / (1 - p)}


def test_dropout_eval_mode_matches_torch_identity():
    x, _ = data((6, 5), seed=0)
    layer = mn.Dropout(0.5, seed=0)
    layer.training = False
    close(layer.forward(x), F.dropout(t(x), p=0.5, training=False), rtol=0, atol=0)


# ---- image layers: (N, C, H, W) ----------------------------------------------------------

CONV_CASES = [  # (N, C, O, H, W, kernel, stride, padding)
    (1, 1, 1, 3, 3, 3, 1, 0), (2, 3, 4, 7, 6, 3, 1, 0), (2, 3, 4, 7, 6, 3, 2, 1),
    (3, 2, 5, 8, 8, 2, 2, 0), (2, 4, 2, 9, 7, 5, 3, 2), (4, 1, 16, 8, 8, 3, 1, 1),
    (2, 2, 3, 5, 5, 1, 1, 0), (2, 3, 2, 6, 9, 4, 1, 3), (1, 5, 3, 10, 4, 3, 3, 1),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "N{}_C{}_O{}_{}x{}_k{}_s{}_p{}"
                         .format(*c))
def test_conv2d_matches_torch_conv2d(case):
    n, c, o, h, w, k, stride, padding = case
    rng = np.random.default_rng(sum(case))
    layer = mn.Conv2D(c, o, k, stride=stride, padding=padding, seed=n)
    layer.params["b"] = rng.standard_normal(o)
    x = rng.standard_normal((n, c, h, w))
    xt, Wt, bt = t(x, grad=True), t(layer.params["W"], grad=True), t(layer.params["b"], grad=True)
    yt = F.conv2d(xt, Wt, bt, stride=stride, padding=padding)
    dout = rng.standard_normal(tuple(yt.shape))
    yt.backward(t(dout))
    close(layer.forward(x), yt)
    close(layer.backward(dout), xt.grad)
    close(layer.grads["W"], Wt.grad)
    close(layer.grads["b"], bt.grad)


@pytest.mark.parametrize("init, torch_init", [("he", torch.nn.init.kaiming_normal_),
                                              ("xavier", torch.nn.init.xavier_normal_)])
def test_conv2d_init_scale_matches_torch(init, torch_init):
    """fan_in = C k², fan_out = O k², as torch computes them for a (O, C, k, k) weight."""
    ours = mn.Conv2D(40, 60, 5, init=init, seed=0).params["W"].std()
    w = torch.empty(60, 40, 5, 5, dtype=torch.float64)
    theirs = torch_init(w, generator=torch.Generator().manual_seed(0)).std().item()
    assert ours == pytest.approx(theirs, rel=0.01)  # 60 000 draws


POOL_CASES = [  # (shape, kernel, stride)
    ((2, 3, 8, 8), 2, None), ((1, 2, 7, 5), 2, None), ((2, 1, 9, 9), 3, 1), ((3, 2, 6, 7), 3, 2),
    ((1, 1, 4, 4), 4, None), ((2, 2, 5, 5), 2, 1),
]


@pytest.mark.parametrize("shape, k, stride", POOL_CASES)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_maxpool2d_matches_torch_max_pool2d_including_ties(shape, k, stride, ties):
    rng = np.random.default_rng(shape[-1] + k)
    # small integers: most windows hold several equal maxima; both send dy to the first
    x = rng.integers(0, 3, shape).astype(float) if ties else rng.standard_normal(shape)
    layer, xt = mn.MaxPool2D(k, stride), t(x, grad=True)
    yt = F.max_pool2d(xt, k, stride)
    dout = rng.standard_normal(tuple(yt.shape))
    yt.backward(t(dout))
    close(layer.forward(x), yt, rtol=0, atol=0)
    close(layer.backward(dout), xt.grad)


def test_maxpool2d_tie_sends_the_whole_gradient_to_the_first_maximum_like_torch():
    x = np.ones((1, 1, 2, 2))
    layer, xt = mn.MaxPool2D(2), t(x, grad=True)
    F.max_pool2d(xt, 2).backward(t([[[[5.0]]]]))
    close(layer.forward(x), [[[[1.0]]]])
    close(layer.backward(np.array([[[[5.0]]]])), [[[[5.0, 0.0], [0.0, 0.0]]]], rtol=0, atol=0)
    close(xt.grad, [[[[5.0, 0.0], [0.0, 0.0]]]], rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3, 4), (2, 3, 4, 5), (5, 1, 8, 8)])
def test_flatten_matches_torch_flatten(shape):
    x, _ = data(shape, seed=len(shape))
    layer, xt = mn.Flatten(), t(x, grad=True)
    yt = torch.flatten(xt, 1)
    dout = np.random.default_rng(0).standard_normal(tuple(yt.shape))
    yt.backward(t(dout))
    close(layer.forward(x), yt, rtol=0, atol=0)
    close(layer.backward(dout), xt.grad, rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(1, 2), (2, 3), (16, 10), (3, 4, 5), (2, 3, 4, 6)])
def test_layernorm_matches_torch_layer_norm(shape):
    rng = np.random.default_rng(shape[-1])
    layer = mn.LayerNorm(shape[-1], eps=1e-5)
    layer.params["gamma"] = rng.standard_normal(shape[-1])
    layer.params["beta"] = rng.standard_normal(shape[-1])
    x = rng.standard_normal(shape) * 3 + rng.standard_normal(shape[:-1] + (1,)) * 5
    xt, gt, bt = t(x, grad=True), t(layer.params["gamma"], grad=True), \
        t(layer.params["beta"], grad=True)
    yt = F.layer_norm(xt, (shape[-1],), gt, bt, eps=1e-5)
    dout = rng.standard_normal(shape)
    yt.backward(t(dout))
    close(layer.forward(x), yt, rtol=1e-10, atol=1e-10)
    close(layer.backward(dout), xt.grad, rtol=1e-9, atol=1e-9)
    close(layer.grads["gamma"], gt.grad, rtol=1e-10, atol=1e-10)
    close(layer.grads["beta"], bt.grad)


# ---- losses -----------------------------------------------------------------------------


def loss_parity(loss, scores, y, torch_value):
    st = t(scores, grad=True)
    value = torch_value(st)
    value.backward()
    assert loss.forward(scores, y) == pytest.approx(value.item(), rel=1e-13, abs=1e-13)
    close(loss.backward(), st.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shape", [(1, 1), (1, 3), (4, 2), (9, 10), (32, 7)])
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_softmax_ce_matches_torch_cross_entropy(shape, scale):
    scores, _ = data(shape, seed=shape[0], scale=scale)
    y = np.random.default_rng(shape[1]).integers(0, shape[1], shape[0])
    loss_parity(mn.SoftmaxCE(), scores, y,
                lambda st: F.cross_entropy(st, torch.tensor(y)))


def test_softmax_ce_matches_torch_at_scores_of_1000():
    scores = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 999.0]])
    y = np.array([2, 1])
    loss_parity(mn.SoftmaxCE(), scores, y, lambda st: F.cross_entropy(st, torch.tensor(y)))


@pytest.mark.parametrize("ignore_index", [None, -100, 0])
@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 1, 2), (5, 7, 3)])
def test_softmax_ce_on_sequences_matches_torch_cross_entropy(shape, ignore_index):
    scores, _ = data(shape, seed=shape[1])
    y = np.random.default_rng(shape[0]).integers(0, shape[2], shape[:2])
    if ignore_index is not None:
        y[0, -1] = ignore_index
        y[-1, 0] = 1  # one target that counts, whatever the draw
    torch_index = -100 if ignore_index is None else ignore_index
    loss_parity(mn.SoftmaxCE(ignore_index=ignore_index), scores, y,
                lambda st: F.cross_entropy(st.reshape(-1, shape[2]), torch.tensor(y).reshape(-1),
                                           ignore_index=torch_index))


@pytest.mark.parametrize("shape", [(1, 1), (4, 2), (9, 10), (32, 1)])
def test_mse_matches_torch_mse_loss(shape):
    scores, target = data(shape, seed=shape[0])
    loss_parity(mn.MSE(), scores, target, lambda st: F.mse_loss(st, t(target)))


@pytest.mark.parametrize("n", [1, 4, 33])
@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_sigmoid_bce_matches_torch_bce_with_logits(n, scale):
    scores, _ = data((n, 1), seed=n, scale=scale)
    y = np.random.default_rng(n).integers(0, 2, n)
    loss_parity(mn.SigmoidBCE(), scores, y,
                lambda st: F.binary_cross_entropy_with_logits(st, t(y.reshape(n, 1))))


@pytest.mark.parametrize("shape", [(1, 2), (4, 3), (9, 10)])
@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_svm_loss_is_torch_multi_margin_loss_times_the_class_count(shape, margin):
    """torch divides Σ_{j≠y} max(0, margin - s_y + s_j) by C as well as by N; CS231n does not."""
    scores, _ = data(shape, seed=shape[0])
    y = np.random.default_rng(shape[1]).integers(0, shape[1], shape[0])
    loss_parity(mn.SVMLoss(margin), scores, y, lambda st: shape[1] * F.multi_margin_loss(
        st, torch.tensor(y), margin=margin))


# ---- optimizers -------------------------------------------------------------------------


def optimizer_parity(ours, make_theirs, steps=25, lrs=None):
    """Run both on the same parameters and the same sequence of gradients; compare each step."""
    rng = np.random.default_rng(0)
    model = mn.Model([mn.Dense(3, 4, seed=0), mn.Tanh(), mn.Dense(4, 2, seed=1)], loss=mn.MSE())
    for p in model.parameters():
        p[...] = rng.standard_normal(p.shape)
    tparams = [t(p, grad=True) for p in model.parameters()]
    theirs = make_theirs(tparams)
    for k in range(steps):
        if lrs is not None:
            ours.lr = lrs[k]
            for group in theirs.param_groups:
                group["lr"] = lrs[k]
        for layer in model.layers:
            for name, p in layer.params.items():
                layer.grads[name] = rng.standard_normal(p.shape)
        for tp, g in zip(tparams, model.gradients(), strict=True):
            tp.grad = t(g)
        ours.step(model)
        theirs.step()
        for p, tp in zip(model.parameters(), tparams, strict=True):
            close(p, tp, rtol=1e-12, atol=1e-12)
    return model, tparams, theirs


def test_sgd_matches_torch_sgd():
    optimizer_parity(mn.SGD(0.05), lambda ps: torch.optim.SGD(ps, lr=0.05))


@pytest.mark.parametrize("betas, eps", [((0.9, 0.999), 1e-8), ((0.5, 0.9), 1e-3)])
def test_adam_matches_torch_adam(betas, eps):
    optimizer_parity(mn.Adam(0.01, *betas, eps),
                     lambda ps: torch.optim.Adam(ps, lr=0.01, betas=betas, eps=eps))


@pytest.mark.parametrize("decay, eps", [(0.99, 1e-8), (0.9, 1e-3)])
def test_rmsprop_matches_torch_rmsprop(decay, eps):
    optimizer_parity(mn.RMSProp(0.01, decay, eps),
                     lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=decay, eps=eps))


def test_momentum_matches_torch_sgd_momentum_at_a_constant_learning_rate():
    """Ours: v ← μ v - lr g, θ ← θ + v.  Torch: b ← μ b + g, θ ← θ - lr b.
    With lr fixed, v = -lr b at every step (induction from v = b = 0), so the paths agree."""
    optimizer_parity(mn.Momentum(0.05, 0.9),
                     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0))


def test_momentum_differs_from_torch_only_by_where_lr_sits_when_lr_changes():
    """Change lr from a to c after some steps: torch applies c to its whole buffer
    (θ -= c (μ b + g)), ours keeps the velocity built with a (θ += μ v - c g, v = -a b).
    So after one step at the new rate the parameters differ by exactly μ (c - a) b."""
    a, c, mu = 0.05, 0.01, 0.9
    ours = mn.Momentum(a, mu)
    model, tparams, theirs = optimizer_parity(
        ours, lambda ps: torch.optim.SGD(ps, lr=a, momentum=mu, dampening=0), steps=10)
    buffers = [theirs.state[tp]["momentum_buffer"].numpy().copy() for tp in tparams]
    for v, b in zip([ours.state[k]["v"] for k, _ in model.named_parameters()], buffers,
                    strict=True):
        close(v, -a * b)
    before = [p.copy() for p in model.parameters()]
    rng = np.random.default_rng(5)
    for layer in model.layers:
        for name, p in layer.params.items():
            layer.grads[name] = rng.standard_normal(p.shape)
    for tp, g in zip(tparams, model.gradients(), strict=True):
        tp.grad = t(g)
    ours.lr = c
    theirs.param_groups[0]["lr"] = c
    ours.step(model)
    theirs.step()
    for p, p0, tp, b, g in zip(model.parameters(), before, tparams, buffers, model.gradients(),
                               strict=True):
        close(p, p0 + mu * (-a * b) - c * g)  # ours, by its formula
        close(tp, p0 - c * (mu * b + g))  # torch, by its formula
        close(p - numpy(tp), -mu * (a - c) * b)  # = μ (c - a) b
