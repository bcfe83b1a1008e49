"""`minnet train --arch conv` and `minnet check --arch conv`: the digits as images."""

import json

import numpy as np
import pytest
from test_cli import BUGGY_LAYER, run

import minnet as mn


def test_train_conv_builds_a_conv_net_on_the_images_and_saves_it(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "--arch", "conv", "--hidden", "--epochs", "2",
                       "--quiet", "--out", str(tmp_path))
    assert code == 0
    assert "64 features, 10 classes" in out
    assert "network images-10 (Conv2D, ReLU, MaxPool2D, Flatten)" in out  # in network order
    assert (tmp_path / "misclassified.png").stat().st_size > 0
    model = mn.Model.load(tmp_path / "model.npz")
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense"]
    assert model.layers[0].params["W"].shape == (16, 1, 3, 3)
    assert model.layers[4].params["W"].shape == (256, 10)
    X, y = mn.datasets.load_digits(images=True)
    assert model.evaluate(X, y)["accuracy"] > 0.8  # two epochs: 92 % here


def test_conv_arch_keeps_the_other_options(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "--arch", "conv", "--hidden", "8", "--activation",
                       "tanh", "--batchnorm", "--dropout", "0.1", "--l2", "0.001", "--epochs",
                       "1", "--quiet", "--out", str(tmp_path))
    assert code == 0 and "network images-8-10" in out
    model = mn.Model.load(tmp_path / "model.npz")
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "Tanh", "MaxPool2D", "Flatten", "Dense", "BatchNorm", "Tanh", "Dropout",
        "Dense"]
    assert model.layers[0].init == "xavier" and model.l2 == 0.001
    # the Dense after Flatten passes its gradient down: the conv weights were trained
    assert not np.array_equal(model.layers[0].params["W"],
                              mn.Conv2D(1, 16, 3, padding=1, init="xavier", seed=0).params["W"])


def test_check_conv_passes_and_lists_the_conv_tensors(capsys):
    code, out, _ = run(capsys, "check", "--arch", "conv", "--hidden", "--batch-size", "8",
                       "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] is True
    assert [(p["layer_index"], p["param"], p["shape"]) for p in report["params"]] == [
        (0, "W", [16, 1, 3, 3]), (0, "b", [16]), (4, "W", [256, 10]), (4, "b", [10])]


def test_check_conv_finds_a_wrong_activation_after_the_convolution(capsys, tmp_path):
    path = tmp_path / "my_layers.py"
    path.write_text(BUGGY_LAYER)
    code, out, _ = run(capsys, "check", "--arch", "conv", "--hidden", "--activation",
                       f"{path}:MyReLU", "--batch-size", "8", "--quiet")
    assert code == 1
    assert "Gradient check FAILED" in out and "layer 1 (MyReLU)" in out


@pytest.mark.parametrize("argv, words", [
    (["train", "--arch", "conv", "--data", "moons"], "--arch conv needs images"),
    (["check", "--arch", "cnn"], "invalid choice: 'cnn'"),
])
def test_bad_conv_arguments_give_one_line_and_exit_2(capsys, tmp_path, argv, words):
    code, out, err = run(capsys, *argv, "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert err.startswith("minnet: error: ") and err.count("\n") == 1 and words in err
