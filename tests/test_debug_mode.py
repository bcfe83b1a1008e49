"""fit(debug=True) / MINNET_DEBUG=1: one check before training, none during it."""

import numpy as np
import pytest
from planted import DenseTimes2

import minnet as mn
from minnet import gradcheck
from minnet.gradcheck.probe import ModelProbe


def model_and_data(first=mn.Dense):
    model = mn.Model([first(6, 8, seed=0), mn.ReLU(), mn.Dense(8, 3, seed=1)],
                     loss=mn.SoftmaxCE())
    rng = np.random.default_rng(0)
    return model, rng.standard_normal((100, 6)), rng.integers(0, 3, 100)


@pytest.fixture
def calls(monkeypatch):
    """Log, in order, every gradient check and every optimizer step."""
    log = []
    check, step = mn.GradientChecker.check, mn.Optimizer.step

    def counted_check(self, *args):
        log.append("check")
        return check(self, *args)

    def counted_step(self, model):
        log.append("step")
        return step(self, model)

    monkeypatch.setattr(mn.GradientChecker, "check", counted_check)
    monkeypatch.setattr(mn.Optimizer, "step", counted_step)
    monkeypatch.delenv("MINNET_DEBUG", raising=False)
    return log


def test_debug_checks_once_before_the_first_step_and_never_during_training(calls, capsys):
    model, X, y = model_and_data()
    model.fit(X, y, epochs=3, batch_size=10, progress=False, debug=True)
    assert calls[0] == "check" and calls.count("check") == 1
    assert calls[1:] == ["step"] * 30
    out = capsys.readouterr()
    assert out.out.count("\n") == 1 and "gradient check passed" in out.out
    assert f"on {gradcheck.DEBUG_BATCH} samples" in out.out
    assert out.err == ""  # Jupyter shows stderr as an error box: good news goes to stdout


def test_without_debug_no_checking_code_runs(calls, monkeypatch):
    probes = []
    monkeypatch.setattr(ModelProbe, "__init__",
                        lambda self, *a: probes.append(a) or pytest.fail("checked"))
    model, X, y = model_and_data()
    model.fit(X, y, epochs=2, batch_size=10, progress=False)
    assert "check" not in calls and probes == [] and calls == ["step"] * 20


@pytest.mark.parametrize("value, checks", [("1", 1), ("yes", 1), ("0", 0), ("", 0)])
def test_minnet_debug_environment_variable(calls, monkeypatch, value, checks):
    monkeypatch.setenv("MINNET_DEBUG", value)
    model, X, y = model_and_data()
    model.fit(X, y, epochs=1, batch_size=50, progress=False)
    assert calls.count("check") == checks


def test_failed_debug_check_raises_with_the_report_and_trains_nothing(calls):
    model, X, y = model_and_data(first=DenseTimes2)
    before = model.get_flat_params()
    optimizer = mn.Adam()
    with pytest.raises(mn.GradientCheckError) as info:
        model.fit(X, y, epochs=2, optimizer=optimizer, progress=False, debug=True)
    report = info.value.report
    assert not report.passed and [s.layer_index for s in report.suspects] == [0]
    assert "factor: analytic ≈ 2" in str(info.value)
    assert "step" not in calls and optimizer.state == {}
    assert np.array_equal(before, model.get_flat_params())


def test_debug_batch_is_drawn_from_the_fit_seed(calls, monkeypatch):
    seen = []
    check = gradcheck.GradientChecker.check
    monkeypatch.setattr(gradcheck.GradientChecker, "check",
                        lambda self, m, X, y: seen.append(X.copy()) or check(self, m, X, y))
    for seed in (0, 0, 1):
        model, X, y = model_and_data()
        model.fit(X, y, epochs=1, progress=False, debug=True, seed=seed)
    assert len(seen) == 3 and seen[0].shape == (gradcheck.DEBUG_BATCH, 6)
    assert np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[0], seen[2])
