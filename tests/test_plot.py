"""minnet.plot: each figure is checked on what it draws, not only on running without error."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import minnet as mn  # noqa: E402
from minnet import gradcheck, plot  # noqa: E402


class InvertedReLU(mn.ReLU):
    """A planted bug: backward lets the gradient through exactly where it should not."""

    def df(self, x, y):
        return (x <= 0).astype(x.dtype)


class DoubledBiasDense(mn.Dense):
    """A planted bug: db is twice what it should be."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = 2 * self.grads["b"]
        return dx


class Threshold:
    """A stand-in classifier whose predictions we know: class 1 right of x = 0."""

    def predict(self, X):
        return (np.asarray(X)[:, 0] > 0).astype(int)


class AlwaysZero:
    def predict(self, X):
        return np.zeros(len(X), dtype=int)


def small_model(hidden_layer=mn.ReLU, dense=mn.Dense):
    return mn.Model([dense(4, 6, seed=0), hidden_layer(), mn.Dense(6, 3, seed=1)],
                    loss=mn.SoftmaxCE())


def data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n)


def check(model, mode="full", **options):
    return mn.GradientChecker(mode=mode, progress=False, **options).check(model, *data())


def marker_line(ax, label):
    return next(line for line in ax.lines if line.get_label() == label)


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    """Every function builds its own Figure: pyplot's global list of figures stays empty."""
    yield
    assert plt.get_fignums() == []


# ---- history ----------------------------------------------------------------------------


def test_history_draws_train_and_validation_loss_and_accuracy(tmp_path):
    h = mn.History(loss=[1.0, 0.5, 0.25], accuracy=[0.5, 0.7, 0.9],
                   val_loss=[1.1, 0.7, 0.6], val_accuracy=[0.4, 0.6, 0.8])
    path = tmp_path / "new" / "folder" / "history.png"
    fig = plot.history(h, path)
    assert isinstance(fig, Figure) and path.stat().st_size > 0
    ax_loss, ax_acc = fig.axes
    assert ax_loss.get_xlabel() == "epoch" and ax_loss.get_ylabel() == "loss"
    assert ax_acc.get_ylabel() == "accuracy"
    train, val = ax_loss.lines
    assert (train.get_label(), val.get_label()) == ("train", "validation")
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(train.get_ydata(), h.loss)
    np.testing.assert_array_equal(val.get_ydata(), h.val_loss)
    np.testing.assert_array_equal(ax_acc.lines[0].get_ydata(), h.accuracy)
    np.testing.assert_array_equal(ax_acc.lines[1].get_ydata(), h.val_accuracy)


def test_history_without_validation_or_accuracy_draws_what_exists():
    fig = plot.history({"loss": [3.0, 2.0], "accuracy": [None, None],
                        "val_loss": [], "val_accuracy": []})
    ax_loss, ax_acc = fig.axes
    assert [line.get_label() for line in ax_loss.lines] == ["train"]
    assert len(ax_acc.lines) == 0
    assert "regression" in ax_acc.texts[0].get_text()


def test_history_of_a_real_fit():
    X, y = data(40)
    model = small_model()
    h = model.fit(X, y, epochs=3, batch_size=8, validation_data=(X, y), progress=False)
    fig = plot.history(h)
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), h.val_loss)


# ---- check report ---------------------------------------------------------------------------


def test_check_report_of_a_passing_model():
    report = check(small_model())
    fig = plot.check_report(report)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert "PASSED" in ax.get_title()
    labels = [t.get_text().split()[0] for t in ax.get_yticklabels()]
    assert labels == ["0.W", "0.b", "2.W", "2.b"]
    passed = marker_line(ax, "passed")
    np.testing.assert_allclose(passed.get_xdata(), [c.rel_error for c in report.params])
    np.testing.assert_array_equal(passed.get_ydata(), [0, 1, 2, 3])
    threshold = next(line for line in ax.lines if line.get_label().startswith("pass threshold"))
    np.testing.assert_array_equal(threshold.get_xdata(), [report.tol, report.tol])
    assert "failed" not in [line.get_label() for line in ax.lines]


def span_x(patch):
    """(left, right) of an axvspan, whatever patch class this matplotlib version uses."""
    x = patch.get_patch_transform().transform(patch.get_path().vertices)[:, 0]
    return x.min(), x.max()


@pytest.mark.parametrize("tol", [None, 1e-8, 1e-3])
def test_check_report_bands_agree_with_the_verdict(tol):
    """Below the tolerance a tensor passes and its band says so; every band above it fails."""
    report = check(small_model(), **({} if tol is None else {"tol": tol}))
    tol = report.tol
    spans = {p.get_label().split(" (")[0]: span_x(p) for p in report_axes(report).patches}
    assert spans.pop("passes")[1] == pytest.approx(tol)
    assert spans.pop("wrong") == pytest.approx((max(1e-2, tol), 10.0))
    if tol < 1e-2:
        assert spans.pop("suspicious") == pytest.approx((max(1e-4, tol), 1e-2))
    if tol < 1e-4:
        assert spans.pop("fails: above the tolerance") == pytest.approx((tol, 1e-4))
    assert spans == {}


def report_axes(report):
    return plot.check_report(report).axes[0]


def test_eps_sweep_bands_start_at_the_default_tolerance():
    ax = plot.eps_sweep({"eps": [1e-6, 1e-5], "float64": [1e-9, 1e-10], "default": 1e-5}).axes[0]
    labels = [p.get_label() for p in ax.patches]
    assert f"passes (<= {gradcheck.DEFAULT_TOL:g})" in labels
    assert not any("fine" in label for label in labels)


def test_check_report_highlights_failures_and_the_suspect_checked_alone(tmp_path):
    report = check(small_model(hidden_layer=InvertedReLU))
    assert not report.passed and [s.layer_index for s in report.suspects] == [1]
    fig = plot.check_report(report, tmp_path / "report.png")
    ax = fig.axes[0]
    assert "FAILED" in ax.get_title()
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[-1].startswith("1.input") and "InvertedReLU alone" in ticks[-1]
    failed = marker_line(ax, "failed")
    np.testing.assert_allclose(failed.get_xdata(),
                               [c.rel_error for c in report.params if not c.passed])
    alone = marker_line(ax, "suspect layer checked alone")
    np.testing.assert_allclose(alone.get_xdata(), [report.suspects[0].input.rel_error])
    assert alone.get_ydata()[0] == len(report.params)
    colors = {t.get_text().split()[0]: t.get_color() for t in ax.get_yticklabels()}
    assert colors["0.W"] == plot.FAIL_COLOR and colors["1.input"] == plot.SUSPECT_COLOR
    assert colors["2.W"] != plot.FAIL_COLOR


def test_check_report_marks_failing_tensors_of_a_suspect_layer():
    report = check(small_model(dense=DoubledBiasDense))
    ax = plot.check_report(report).axes[0]
    suspect = marker_line(ax, "failed, in a suspect layer")
    bad = [c for c in report.params if not c.passed and c.layer_index == 0]
    assert [c.param for c in bad] == ["b"]
    np.testing.assert_allclose(suspect.get_xdata(), [bad[0].rel_error])


def test_check_report_draws_an_exact_zero_on_the_log_axis():
    report = check(small_model())
    report.params[1].rel_error = 0.0
    ax = plot.check_report(report).axes[0]
    x = marker_line(ax, "passed").get_xdata()
    assert x[1] == plot.FLOOR and ax.get_xlim()[0] <= plot.FLOOR


# ---- eps sweep ---------------------------------------------------------------------------


def test_eps_sweep_draws_both_dtypes_on_log_log_axes_with_the_default_marked(tmp_path):
    eps = np.logspace(-12, -1, 12)
    sweep = {"eps": eps, "float64": 1e-16 / eps + eps**2, "float32": 1e-7 / eps + eps**2,
             "default": 1e-6}
    fig = plot.eps_sweep(sweep, tmp_path / "sweep.png")
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    curves = {line.get_label().split()[0]: line for line in ax.lines
              if line.get_label().startswith("float")}
    np.testing.assert_array_equal(curves["float64"].get_xdata(), eps)
    np.testing.assert_allclose(curves["float64"].get_ydata(), sweep["float64"])
    np.testing.assert_allclose(curves["float32"].get_ydata(), sweep["float32"])
    default = next(line for line in ax.lines if line.get_label().startswith("default eps"))
    np.testing.assert_array_equal(default.get_xdata(), [1e-6, 1e-6])
    text = " ".join(t.get_text() for t in ax.texts)
    assert "round-off" in text and "truncation" in text
    best = eps[np.argmin(sweep["float64"])]
    assert f"best eps ≈ {best:.0e}" in curves["float64"].get_label()
    stars = [line for line in ax.lines if line.get_marker() == "*"]
    assert [s.get_xdata()[0] for s in stars] == [best, eps[np.argmin(sweep["float32"])]]
    assert (tmp_path / "sweep.png").exists()


def test_eps_sweep_of_a_real_model_has_its_float64_bottom_well_below_float32():
    model = mn.Model([mn.Dense(4, 5, seed=0), mn.Tanh(), mn.Dense(5, 3, seed=1)],
                     loss=mn.SoftmaxCE())
    sweep = gradcheck.eps_sweep(model, *data(), eps_values=np.logspace(-10, -1, 10),
                                entries=16)
    ax = plot.eps_sweep(sweep).axes[0]
    lows = {line.get_label().split()[0]: min(line.get_ydata()) for line in ax.lines
            if line.get_label().startswith("float")}
    assert lows["float64"] < 1e-7 < lows["float32"]


# ---- error heatmap -----------------------------------------------------------------------


def test_error_heatmap_shows_the_absolute_error_of_each_entry():
    report = check(small_model(hidden_layer=InvertedReLU))
    W = report.params[0]
    assert not W.passed and W.errors is not None
    fig = plot.error_heatmap(W)
    ax = fig.axes[0]
    shown = ax.images[0].get_array()
    assert shown.shape == W.shape
    assert isinstance(ax.images[0].norm, LogNorm)
    big = np.abs(W.errors) >= ax.images[0].norm.vmin
    np.testing.assert_allclose(shown[big], np.abs(W.errors)[big])
    box = next(p for p in ax.patches if isinstance(p, Rectangle))
    assert box.get_xy() == (W.worst_index[1] - 0.5, W.worst_index[0] - 0.5)
    assert "0.W" in ax.get_title()
    assert fig.axes[1].get_ylabel() == "|analytic − numeric|"  # the colorbar


def test_error_heatmap_of_a_bias_is_one_row():
    b = check(small_model(hidden_layer=InvertedReLU)).params[1]
    ax = plot.error_heatmap(b).axes[0]
    assert ax.images[0].get_array().shape == (1, 6)


def test_error_heatmap_leaves_unchecked_entries_blank():
    b = check(small_model(dense=DoubledBiasDense), mode="sample", samples=2).params[1]
    unchecked = np.isnan(b.errors)
    assert unchecked.sum() == 4
    shown = np.ma.filled(plot.error_heatmap(b).axes[0].images[0].get_array(), np.nan)
    np.testing.assert_array_equal(np.isnan(shown[0]), unchecked)


def test_error_heatmap_explains_when_a_tensor_has_no_errors():
    passed = check(small_model()).params[0]
    with pytest.raises(ValueError, match="mode='full'"):
        plot.error_heatmap(passed)


# ---- classifiers -------------------------------------------------------------------------


def test_decision_boundary_colors_the_plane_by_predicted_class(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (50, 2))
    y = (X[:, 0] > 0).astype(int)
    y[:3] = 1 - y[:3]  # three points on the wrong side
    fig = plot.decision_boundary(Threshold(), X, y, tmp_path / "db.png", resolution=30)
    ax = fig.axes[0]
    points, rings = ax.collections[-2:]
    np.testing.assert_allclose(points.get_offsets(), X)
    np.testing.assert_allclose(rings.get_offsets(), X[:3])
    assert "94.0%" in ax.get_title()
    contour = next(c for c in ax.collections if hasattr(c, "levels"))
    np.testing.assert_array_equal(contour.levels, [-0.5, 0.5, 1.5])
    assert (tmp_path / "db.png").exists()


def test_decision_boundary_of_a_trained_model_separates_xor():
    X, y = mn.datasets.xor(200, noise=0.0, seed=0)
    model = mn.Model([mn.Dense(2, 16, seed=0), mn.Tanh(), mn.Dense(16, 2, seed=1)],
                     loss=mn.SoftmaxCE())
    model.fit(X, y, epochs=60, optimizer=mn.Adam(0.05), progress=False)
    title = plot.decision_boundary(model, X, y, resolution=20).axes[0].get_title()
    assert float(title.split("accuracy ")[1].split("%")[0]) > 90


def test_decision_boundary_needs_two_features():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot.decision_boundary(Threshold(), np.zeros((5, 3)), np.zeros(5))


def test_misclassified_shows_each_wrong_image_with_true_and_predicted_labels(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (30, 64))
    y = np.array([0, 3, 0, 7, 1] * 6)
    fig = plot.misclassified(AlwaysZero(), X, y, max_images=10, path=tmp_path / "m.png")
    drawn = [ax for ax in fig.axes if ax.images]
    wrong = np.flatnonzero(y != 0)[:10]
    assert len(drawn) == 10
    for ax, i in zip(drawn, wrong):
        np.testing.assert_array_equal(ax.images[0].get_array(), X[i].reshape(8, 8))
        assert ax.get_title() == f"{y[i]} → 0"
    assert "18 of 30" in fig._suptitle.get_text()


def test_misclassified_gives_the_confidence_of_a_real_model():
    X, y = mn.datasets.load_digits()
    model = mn.Model([mn.Dense(64, 10, seed=0)], loss=mn.SoftmaxCE())
    fig = plot.misclassified(model, X[:50], y[:50], max_images=4)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert len(titles) == 4 and all(t.endswith("%)") for t in titles)


def test_misclassified_when_nothing_is_wrong():
    fig = plot.misclassified(AlwaysZero(), np.zeros((4, 4)), np.zeros(4), shape=(2, 2))
    assert not any(ax.images for ax in fig.axes)
    assert "no misclassified" in fig.axes[0].texts[0].get_text()


def test_misclassified_checks_the_image_shape():
    with pytest.raises(ValueError, match="64 pixels"):
        plot.misclassified(AlwaysZero(), np.zeros((3, 10)), np.ones(3))


# ---- showing a figure: in Jupyter, in a script, and never piling up ------------------------


def every_figure():
    """One figure from each plot function, on small inputs."""
    report = check(small_model(hidden_layer=InvertedReLU))
    X, y = data()
    yield plot.history({"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]})
    yield plot.check_report(report)
    yield plot.eps_sweep({"eps": [1e-6, 1e-5], "float64": [1e-9, 1e-10], "default": 1e-5})
    yield plot.error_heatmap(report.params[0])
    yield plot.decision_boundary(Threshold(), X[:, :2], (X[:, 0] > 0).astype(int),
                                 resolution=20)
    yield plot.misclassified(small_model(), np.zeros((3, 4)), np.array([0, 1, 2]),
                             shape=(2, 2))


def test_every_figure_renders_as_png_where_ipython_displays_it():
    """What Jupyter shows for a cell's value, with no matplotlib setup run in the kernel."""
    formatters = pytest.importorskip("IPython.core.formatters")
    display = formatters.DisplayFormatter()
    for fig in every_figure():
        data, _ = display.format(fig)
        assert data["image/png"].startswith(b"\x89PNG\r\n"), type(fig)


def test_figures_are_freed_like_any_object_however_many_are_drawn():
    import gc
    import warnings
    import weakref

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pyplot warns when more than 20 figures are open
        refs = [weakref.ref(plot.history({"loss": [1.0, 0.5]})) for _ in range(25)]
    gc.collect()
    assert [r() for r in refs] == [None] * 25


SHOW_BACKEND = '''
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg


class FigureManager(FigureManagerBase):
    def show(self):  # what a GUI backend does: open a window
        print("window:", self.canvas.figure.texts[0].get_text(), flush=True)

    @classmethod
    def start_main_loop(cls):  # and wait until it is closed
        print("main loop", flush=True)


class FigureCanvas(FigureCanvasAgg):
    manager_class = FigureManager
'''


def test_show_opens_a_window_in_a_script(tmp_path):
    """`plot.history(h).show()` in a script, with a GUI backend (a stand-in that prints)."""
    import os
    import subprocess
    import sys

    (tmp_path / "show_backend.py").write_text(SHOW_BACKEND)
    script = "from minnet import plot\nplot.history({'loss': [1.0, 0.5]}).show()\n"
    env = {**os.environ, "MPLBACKEND": "module://show_backend",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["window: Training history", "main loop"]


# ---- gradients per time step ---------------------------------------------------------------


def sequence_model(scale, seed=0):
    """An RNN whose Wh is scale·(orthogonal): ‖dL/dh_t‖ changes by about scale per step."""
    model = mn.Model([mn.RNN(2, 4, seed=seed, return_sequences=False), mn.Dense(4, 3, seed=1)],
                     loss=mn.SoftmaxCE())
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((4, 4)))[0]
    model.layers[0].params["Wh"] = scale * q
    return model


def sequences(n=10, t=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, t, 2)) * 1e-9, rng.integers(0, 3, n)


def test_time_gradients_draws_the_norm_of_dh_at_each_step(tmp_path):
    X, y = sequences()
    model = sequence_model(0.5)
    grads = [g.copy() for g in model.gradients()]
    path = tmp_path / "sub" / "time.png"
    fig = plot.time_gradients(model, X, y, path=path)
    assert isinstance(fig, Figure) and path.stat().st_size > 0
    ax, = fig.axes
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "time step t"
    line, = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), np.arange(12))
    norms = line.get_ydata()
    np.testing.assert_allclose(norms, np.linalg.norm(model.layers[0].dh, axis=(0, 2)))
    np.testing.assert_allclose(norms[:-1] / norms[1:], 0.5, rtol=1e-6)  # vanishing toward t = 0
    for before, after in zip(grads, model.gradients()):  # the model's grads are put back
        np.testing.assert_array_equal(before, after)


def test_time_gradients_compares_runs_with_their_training_curves():
    X, y = sequences(seed=1)
    models = {"exploding": sequence_model(2.0), "clipped": sequence_model(2.0)}
    histories = {"exploding": models["exploding"].fit(X, y, epochs=3, progress=False,
                                                      optimizer=mn.SGD(1e-3)),
                 "clipped": models["clipped"].fit(X, y, epochs=3, progress=False, clip_norm=1e-3,
                                                  optimizer=mn.SGD(1e-3))}
    fig = plot.time_gradients(models, X, y, histories)
    ax_t, ax_loss, ax_norm = fig.axes
    assert [line.get_label() for line in ax_t.lines] == ["exploding", "clipped"]
    clipped = ax_t.lines[1].get_ydata()  # steps of at most 1e-6 keep Wh as it was: 2x per step
    np.testing.assert_allclose(clipped[:-1] / clipped[1:], 2.0, rtol=1e-3)
    assert [line.get_label() for line in ax_loss.lines] == ["exploding, train", "clipped, train"]
    np.testing.assert_array_equal(ax_loss.lines[1].get_ydata(), histories["clipped"].loss)
    norm_lines = {line.get_label(): line for line in ax_norm.lines}
    np.testing.assert_array_equal(norm_lines["clipped"].get_ydata(),
                                  histories["clipped"].grad_norm)
    assert histories["clipped"].clipped == [1, 1, 1] and histories["exploding"].clipped == [0] * 3
    rings = norm_lines["clipped: steps clipped"]
    np.testing.assert_array_equal(rings.get_xdata(), [1, 2, 3])
    assert "exploding: steps clipped" not in norm_lines


def test_time_gradients_needs_a_recurrent_layer():
    with pytest.raises(ValueError, match="no recurrent layer"):
        plot.time_gradients(small_model(), *data())
