"""The `minnet` command line: exit codes, what it prints, and the files it writes."""

import json
import re
import subprocess
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minnet as mn  # noqa: E402
from minnet.cli import main  # noqa: E402

BUGGY_LAYER = textwrap.dedent("""
    import numpy as np
    import minnet as mn


    class MyReLU(mn.Layer):
        \"\"\"A student's ReLU with a planted bug: the mask in backward is inverted.\"\"\"

        def forward(self, x):
            self.x = x
            return np.maximum(x, 0)

        def backward(self, dout):
            return dout * (self.x <= 0)
""")


def run(capsys, *argv):
    """main(argv) in this process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_csv(path, rows, header="x1,x2,label"):
    lines = ([header] if header else []) + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def buggy_layer(tmp_path):
    path = tmp_path / "my_layers.py"
    path.write_text(BUGGY_LAYER)
    return f"{path}:MyReLU"


@pytest.fixture
def spiral_csv(tmp_path):
    X, y = mn.datasets.spiral(20, 3, seed=0)
    return write_csv(tmp_path / "spiral.csv", np.column_stack([X, y]).tolist())


# ---- usage ----------------------------------------------------------------------------------


def test_version_and_help(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"minnet {mn.__version__}"
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0 and "--hidden" in out and "--debug" in out and "exit codes" in out


def test_train_help_says_what_it_trains_and_each_option_its_default(capsys):
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "fully connected, or convolutional with --arch conv" in text
    assert "--optimizer {adam,sgd,momentum} the update rule, with --lr as its learning rate " \
        "(default: adam)" in text


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = run(capsys)
    assert code == 2 and "demo" in out and "train" in out and "check" in out


@pytest.mark.parametrize("argv, words", [
    (["frob"], "invalid choice"),
    (["train", "--epochs", "-3"], "--epochs: must be a positive integer, got '-3'"),
    (["train", "--epochs", "2.5"], "--epochs"),
    (["train", "--lr", "0"], "--lr: must be a number > 0"),
    (["train", "--hidden", "64", "0"], "--hidden"),
    (["train", "--test-size", "1.5"], "--test-size"),
    (["train", "--dropout", "1"], "--dropout"),
    (["train", "--optimizer", "lbfgs"], "invalid choice"),
    (["check", "--eps", "abc"], "--eps"),
    (["check", "--eps", "nan"], "--eps"),
    (["check", "--mode", "guess"], "invalid choice"),
    (["check", "--activation", "relu6"], "unknown activation 'relu6'"),
    (["check", "--activation", "missing_file.py:MyReLU"], "cannot load"),
    (["demo", "--seed", "x"], "--seed"),
    (["demo", "--seed", "-1"], "--seed: must be an integer >= 0, got '-1'"),
    (["check", "--eps", "-1e-5"], "--eps: must be a number > 0, got '-1e-5'"),
    (["check", "--eps", "-0.001"], "--eps: must be a number > 0, got '-0.001'"),
    (["train", "--lr", "-1e-3"], "--lr: must be a number > 0, got '-1e-3'"),
    (["train", "--l2", "-1E-4"], "--l2: must be a number >= 0, got '-1E-4'"),
    (["train", "--hidden", "-5"], "--hidden: must be a positive integer or none, got '-5'"),
    (["train", "--no-such-option"], "unrecognized arguments"),
])
def test_bad_arguments_give_one_line_and_exit_2(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("minnet: error: ") and err.count("\n") == 1
    assert words in err


def test_bad_arguments_through_python_dash_m_have_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "minnet", "train", "--epochs", "-1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("minnet: error: ") and "Traceback" not in proc.stderr


# ---- unreadable or malformed data -----------------------------------------------------------


@pytest.mark.parametrize("content, words", [
    ("x,label\n1,0\n2,oops\n", "line 3"),
    ("1,2,0\n3,4\n", "line 2: 2 columns, but the first row has 3"),
    ("1,2,0.5\n3,4,1\n", "class labels 0, 1, 2"),
    ("1,2,-1\n3,4,1\n", "class labels 0, 1, 2"),
    ("1,2,1\n3,4,1\n", "at least two classes"),
    ("1\n2\n", "needs feature columns and a label column"),
    ("1,nan,0\n3,4,1\n", "line 1: holds NaN"),
    ("", "no rows of numbers"),
    ("a,b,label\n", "no rows of numbers"),
])
def test_malformed_csv_gives_one_line_and_exit_2(capsys, tmp_path, content, words):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, out, err = run(capsys, "train", "--data", str(path), "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert err.startswith(f"minnet: error: {path}") and err.count("\n") == 1
    assert words in err


@pytest.mark.parametrize("name, content", [
    ("missing.csv", None),
    ("folder.csv", "a folder"),
    ("binary.csv", b"\xff\xfe\x00\x81"),
    ("broken.csv.gz", b"not gzip"),
])
def test_unreadable_files_give_one_line_and_exit_2(capsys, tmp_path, name, content):
    path = tmp_path / name
    if content == "a folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    code, out, err = run(capsys, "check", "--data", str(path))
    assert code == 2 and out == ""
    assert err.startswith("minnet: error: ") and err.count("\n") == 1
    assert str(path) in err


def test_an_output_folder_that_cannot_be_made_is_an_error(capsys, tmp_path, spiral_csv):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "train", "--data", spiral_csv, "--out", str(blocker / "out"))
    assert code == 2 and "cannot create the output folder" in err


# ---- train ------------------------------------------------------------------------------------


def test_train_on_a_csv_file_saves_a_model_and_pictures(capsys, tmp_path, spiral_csv):
    out_dir = tmp_path / "run"
    code, out, _ = run(capsys, "train", "--data", spiral_csv, "--hidden", "16", "--epochs",
                       "3", "--quiet", "--out", str(out_dir))
    assert code == 0
    assert "48 training and 12 test samples, 2 features, 3 classes" in out
    assert "network 2-16-3 (ReLU)" in out and "test: loss" in out
    assert {p.name for p in out_dir.iterdir()} == {"model.npz", "history.png",
                                                    "decision_boundary.png"}
    model = mn.Model.load(out_dir / "model.npz")
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "ReLU", "Dense"]
    assert model.layers[0].params["W"].shape == (2, 16)


def test_a_gzipped_csv_with_labels_that_skip_a_class(capsys, tmp_path):
    import gzip

    rows = [[i % 5, (i * 7) % 3, 2 * (i % 2) + 1] for i in range(30)]  # labels 1 and 3
    path = tmp_path / "d.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(",".join(map(str, r)) for r in rows))
    code, out, err = run(capsys, "train", "--data", str(path), "--hidden", "--epochs", "1",
                         "--quiet", "--out", str(tmp_path / "o"))
    assert code == 0 and "4 classes" in out and "network 2-4" in out
    assert err == f"minnet: warning: {path}: the labels are 1, 3, so the network gets 4 " \
        f"outputs, 2 of them for classes no row has (0, 2); number the classes 0, 1, 2, ... " \
        f"without gaps\n"


def test_a_csv_with_large_features_gets_a_one_line_warning(capsys, tmp_path):
    X, y = mn.datasets.spiral(20, 3, seed=0)
    path = write_csv(tmp_path / "big.csv", np.column_stack([1000 * X, y]).tolist())
    code, _, err = run(capsys, "train", "--data", path, "--epochs", "1", "--quiet", "--out",
                       str(tmp_path / "o"))
    assert code == 0 and err.count("\n") == 1
    assert err.startswith(f"minnet: warning: {path}: feature column ")
    assert "scale the features to about [-1, 1]" in err


def test_a_clean_csv_gets_no_warning(capsys, tmp_path, spiral_csv):
    code, _, err = run(capsys, "train", "--data", spiral_csv, "--epochs", "1", "--quiet",
                       "--out", str(tmp_path))
    assert code == 0 and err == ""


def test_train_on_digits_draws_the_misclassified_digits(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "--epochs", "1", "--hidden", "8", "--quiet",
                       "--out", str(tmp_path))
    assert code == 0 and "misclassified.png" in out
    assert (tmp_path / "misclassified.png").stat().st_size > 0


def test_train_options_reach_the_model(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "--data", "moons", "--hidden", "8", "4",
                       "--activation", "tanh", "--batchnorm", "--dropout", "0.1",
                       "--optimizer", "momentum", "--lr", "0.05", "--l2", "0.001",
                       "--epochs", "2", "--batch-size", "64", "--quiet", "--out", str(tmp_path))
    assert code == 0
    assert "network 2-8-4-2 (BatchNorm, Tanh, Dropout)" in out  # in network order
    assert "2 epochs of Momentum(lr=0.05), batches of 64" in out
    model = mn.Model.load(tmp_path / "model.npz")
    assert model.l2 == 0.001
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense", "BatchNorm", "Tanh", "Dropout", "Dense", "BatchNorm", "Tanh", "Dropout",
        "Dense"]


def test_the_same_seed_trains_the_same_model(capsys, tmp_path):
    for name in ("a", "b", "c"):
        seed = "1" if name == "c" else "0"
        assert run(capsys, "train", "--data", "xor", "--epochs", "2", "--hidden", "8",
                   "--seed", seed, "--quiet", "--out", str(tmp_path / name))[0] == 0
    a, b, c = (mn.Model.load(tmp_path / n / "model.npz").get_flat_params() for n in "abc")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_train_debug_checks_first_and_trains_when_backprop_is_right(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--data", "xor", "--hidden", "4", "--epochs", "1",
                         "--debug", "--quiet", "--out", str(tmp_path))
    assert code == 0 and "gradient check passed" in out and "gradient check" not in err
    assert (tmp_path / "model.npz").exists()


def test_train_debug_stops_before_training_a_wrong_layer(capsys, tmp_path, buggy_layer):
    code, out, err = run(capsys, "train", "--data", "xor", "--hidden", "4", "--activation",
                         buggy_layer, "--debug", "--quiet", "--out", str(tmp_path))
    assert code == 1
    assert "FAILED" in out and "MyReLU" in out
    assert "training did not start" in err
    assert (tmp_path / "gradient_check.png").exists()
    assert not (tmp_path / "model.npz").exists()


# ---- check ------------------------------------------------------------------------------------


def test_check_passes_on_built_in_layers(capsys):
    code, out, _ = run(capsys, "check", "--data", "spiral", "--hidden", "8", "--quiet")
    assert code == 0
    assert out.startswith("minnet check: network 2-8-3 (ReLU) on 32 samples of spiral")
    assert "Gradient check PASSED" in out
    assert all(f"{i} Dense" in out for i in (0, 2))


def test_check_json_is_the_report_as_data(capsys):
    code, out, _ = run(capsys, "check", "--data", "xor", "--hidden", "3", "--json",
                       "--eps", "1e-5", "--mode", "full", "--batch-size", "10")
    report = json.loads(out)
    assert code == 0 and report["passed"] is True
    assert report["eps"] == 1e-5 and report["mode"] == "full"
    assert [(p["layer_index"], p["param"]) for p in report["params"]] == [
        (0, "W"), (0, "b"), (2, "W"), (2, "b")]
    assert report["params"][0]["checked"] == 2 * 3


def test_check_fails_with_exit_1_on_a_wrong_layer_and_draws_it(capsys, tmp_path, buggy_layer):
    code, out, _ = run(capsys, "check", "--data", "xor", "--hidden", "5", "--activation",
                       buggy_layer, "--quiet", "--out", str(tmp_path / "o"))
    assert code == 1
    assert "Gradient check FAILED" in out and "layer 1 (MyReLU)" in out
    assert "inverted mask" in out
    # heatmaps of the guilty layer's own tensor, not of those its wrong gradient spoils
    drawn = {p.name for p in (tmp_path / "o").iterdir()}
    assert drawn == {"gradient_check.png", "errors_1.input.png"}
    assert "Wrote to " in out and out.rstrip().endswith("gradient_check.png, errors_1.input.png")


def test_check_json_of_a_failure(capsys, buggy_layer):
    code, out, _ = run(capsys, "check", "--data", "xor", "--hidden", "5", "--activation",
                       buggy_layer, "--json")
    report = json.loads(out)
    assert code == 1 and report["passed"] is False
    assert [s["layer_index"] for s in report["suspects"]] == [1]


def test_check_through_python_dash_m_with_a_layer_module(tmp_path):
    (tmp_path / "my_layers.py").write_text(BUGGY_LAYER)
    cmd = [sys.executable, "-m", "minnet", "check", "--data", "xor", "--hidden", "4", "--quiet"]
    failed = subprocess.run(cmd + ["--activation", "my_layers:MyReLU"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    passed = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (failed.returncode, passed.returncode) == (1, 0)
    assert "FAILED" in failed.stdout and "PASSED" in passed.stdout


# ---- the user's own code raises --------------------------------------------------------------


RAISES = textwrap.dedent("""
    import numpy as np
    import minnet as mn


    class Broken(mn.Layer):
        def __init__(self):
            super().__init__()
            self.scale = {}[WHERE] if WHERE == "__init__" else 1.0

        def forward(self, x):
            self.x = x
            return np.maximum(x, 0) * self.scale + (undefined_name if WHERE == "forward" else 0)

        def backward(self, dout):
            return dout * (self.x > 0) * (1 // (0 if WHERE == "backward" else 1))
""")
RAISED = {"__init__": ("KeyError", "'__init__'", 9),
          "forward": ("NameError", "name 'undefined_name' is not defined", 13),
          "backward": ("ZeroDivisionError", "integer division or modulo by zero", 16)}


@pytest.mark.parametrize("command, method", [("check", "__init__"), ("check", "forward"),
                                             ("train", "__init__"), ("train", "forward"),
                                             ("train", "backward")])
def test_an_exception_in_the_users_layer_is_one_line_and_exit_2(capsys, tmp_path, command,
                                                                method):
    path = tmp_path / "broken.py"
    path.write_text(RAISES.replace("WHERE", repr(method)))
    epochs = ["--epochs", "1"] if command == "train" else []
    code, _, err = run(capsys, command, "--data", "xor", "--hidden", "4", "--activation",
                       f"{path}:Broken", "--quiet", "--out", str(tmp_path / "o"), *epochs)
    kind, message, line = RAISED[method]
    assert code == 2
    assert err == (f"minnet: error: your layer's code raised {kind} in Broken.{method} "
                   f"({path}, line {line}): {message}\n")


def test_a_backward_that_raises_is_a_failed_check_with_the_report_and_exit_1(capsys, tmp_path):
    """The gradient check's job: a FAIL row that says where backward raised, not a crash."""
    path = tmp_path / "broken.py"
    path.write_text(RAISES.replace("WHERE", repr("backward")))
    code, out, err = run(capsys, "check", "--data", "xor", "--hidden", "4", "--activation",
                         f"{path}:Broken", "--quiet")
    assert code == 1 and "Traceback" not in out + err
    assert "Gradient check FAILED: the backward of layer 1 (Broken) is wrong" in out
    assert (f"backward raised ZeroDivisionError ({path}, line 16): integer division or modulo "
            f"by zero") in out


def test_an_exception_in_a_layer_module_through_python_dash_m_has_no_traceback(tmp_path):
    (tmp_path / "broken.py").write_text(RAISES.replace("WHERE", "'forward'"))
    proc = subprocess.run([sys.executable, "-m", "minnet", "check", "--data", "xor", "--quiet",
                           "--activation", "broken:Broken"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "raised NameError in Broken.forward" in proc.stderr and "line 13" in proc.stderr
    assert str(tmp_path / "broken.py") in proc.stderr


def test_an_exception_in_minnets_own_code_keeps_its_traceback(capsys, monkeypatch, tmp_path):
    """Only the user's code is reported in one line: a bug of minnet's must be seen whole."""
    path = tmp_path / "broken.py"
    path.write_text(RAISES.replace("WHERE", "None"))
    monkeypatch.setattr("minnet.cli.GradientChecker.check",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("minnet's bug")))
    with pytest.raises(RuntimeError, match="minnet's bug"):
        main(["check", "--data", "xor", "--activation", f"{path}:Broken", "--quiet"])


# ---- demo -------------------------------------------------------------------------------------


def test_demo_checks_trains_tests_and_writes_pictures(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--epochs", "2", "--quiet", "--out", str(tmp_path))
    assert code == 0
    assert "64-64-10" in out and "Gradient check PASSED" in out
    assert out.index("Gradient check") < out.index("Training") < out.index("Test accuracy")
    accuracy = float(out.split("Test accuracy: ")[1].split("%")[0])
    assert 50 < accuracy <= 100
    assert f"Wrote to {tmp_path}/" in out
    assert {p.name for p in tmp_path.iterdir()} == {
        "history.png", "gradient_check.png", "eps_sweep.png", "misclassified.png", "model.npz"}
    model = mn.Model.load(tmp_path / "model.npz")
    X, y = mn.datasets.load_digits()
    assert model.evaluate(X, y)["accuracy"] > 0.5


# ---- what the help offers works; what cannot work is refused in one line ---------------------


@pytest.mark.parametrize("hidden", [["none"], ["None"], []])
def test_hidden_none_trains_a_softmax_regression(capsys, tmp_path, hidden):
    code, out, err = run(capsys, "train", "--data", "xor", "--hidden", *hidden, "--epochs", "1",
                         "--quiet", "--out", str(tmp_path))
    assert code == 0, err
    assert "network 2-2;" in out
    model = mn.Model.load(tmp_path / "model.npz")
    assert [type(layer).__name__ for layer in model.layers] == ["Dense"]


def test_hidden_none_mixed_with_sizes_is_refused(capsys):
    code, out, err = run(capsys, "check", "--hidden", "none", "8")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--hidden: none (no hidden layer) cannot be mixed with sizes" in err


@pytest.mark.parametrize("command", ["train", "check"])
def test_a_batch_larger_than_the_training_set_is_refused(capsys, tmp_path, command):
    code, out, err = run(capsys, command, "--data", "spiral", "--batch-size", "100000",
                         "--out", str(tmp_path))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--batch-size 100000 is more than the 240 training samples of spiral; choose at " \
           "most 240" in err


def test_the_default_batch_size_shrinks_to_a_small_data_set(capsys, tmp_path):
    path = write_csv(tmp_path / "tiny.csv", [[i, i % 3, i % 2] for i in range(10)])
    code, out, _ = run(capsys, "train", "--data", path, "--epochs", "1", "--quiet",
                       "--out", str(tmp_path / "o"))
    assert code == 0 and "batches of 8," in out


def test_train_prints_the_final_models_accuracy_the_one_its_picture_shows(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "--data", "spiral", "--hidden", "16", "--epochs", "5",
                       "--quiet", "--out", str(tmp_path))
    assert code == 0
    printed = re.search(r"train: loss ([\d.]+), accuracy ([\d.]+)%   "
                        r"test: loss ([\d.]+), accuracy ([\d.]+)%", out).groups()
    model = mn.Model.load(tmp_path / "model.npz")
    Xtr, Xte, ytr, yte = mn.datasets.train_test_split(*mn.datasets.spiral(100, 3, 0.2, seed=0),
                                                      test_size=0.2, seed=0)
    train, test = model.evaluate(Xtr, ytr), model.evaluate(Xte, yte)
    assert printed == (f"{train['loss']:.4f}", f"{100 * train['accuracy']:.1f}",
                       f"{test['loss']:.4f}", f"{100 * test['accuracy']:.1f}")
    # decision_boundary.png is drawn on the training points, titled with this accuracy
    title = mn.plot.decision_boundary(model, Xtr, ytr).axes[0].get_title()
    assert f"accuracy {100 * train['accuracy']:.1f}%" in title


@pytest.mark.parametrize("lr", ["1e6", "1e300"])
def test_a_diverging_run_exits_1_with_one_line_and_no_numpy_warning(tmp_path, lr):
    proc = subprocess.run([sys.executable, "-m", "minnet", "train", "--data", "spiral",
                           "--lr", lr, "--optimizer", "sgd", "--quiet", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("minnet: training diverged at epoch ")
    assert proc.stderr.count("\n") == 1 and "Warning" not in proc.stderr
    assert "train: loss" not in proc.stdout and not (tmp_path / "model.npz").exists()
