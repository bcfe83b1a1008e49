"""`minnet train`, `check` and `sample` on sequences: character models (rnn, lstm, gru,
transformer) on the shipped text, the addition task, and what the command line refuses.

Tiny sizes throughout (600 characters in windows of 8, widths of 4 to 8, one epoch): each
command runs in a fraction of a second."""

import contextlib
import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from test_cli import run

import minnet as mn
from minnet import cli

TEXT = ["--chars", "600", "--seq-length", "8", "--embed-dim", "4"]
SIZES = {"rnn": ["--hidden", "8"], "lstm": ["--hidden", "8"], "gru": ["--hidden", "8"],
         "transformer": ["--embed-dim", "8", "--heads", "2", "--blocks", "1"]}
LAYERS = {"rnn": ["Embedding", "RNN", "Dense"], "lstm": ["Embedding", "LSTM", "Dense"],
          "gru": ["Embedding", "GRU", "Dense"],
          "transformer": ["Embedding", "PositionalEncoding", "Sequential", "LayerNorm", "Dense"]}


def tiny(arch, *more):
    """The options of a tiny model of `arch` on the first 600 characters (the last --embed-dim
    given wins, so the transformer gets 8)."""
    return ["--arch", arch, *TEXT, *SIZES[arch], *more]


def text_split(seq_length=8, chars=600, test_size=0.2):
    """The windows `train --data text` trains and validates on."""
    _, vocab, X, y = mn.datasets.load_text(seq_length=seq_length, chars=chars)
    held = round(test_size * len(X))
    return vocab, (X[:-held], X[-held:], y[:-held], y[-held:])


def printed_scores(out):
    """The numbers of the line `train: loss ..., ...   validation: loss ..., ...`."""
    line, = [line for line in out.splitlines() if line.startswith("train: loss")]
    return re.findall(r"\d+\.\d+", line)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Models saved by `minnet train`, trained once for the tests of `sample`: a character
    RNN, an RNN on addition, and an MLP on xor."""
    folder = tmp_path_factory.mktemp("models")
    runs = {"text": tiny("rnn"), "addition": ["--arch", "rnn", "--data", "addition",
                                              "--hidden", "8", "--embed-dim", "4"],
            "mlp": ["--data", "xor", "--hidden", "4"]}
    for name, argv in runs.items():
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(["train", *argv, "--epochs", "1", "--quiet",
                             "--out", str(folder / name)]) == 0
    return {name: folder / name / "model.npz" for name in runs}


# ---- train and sample, each arch ------------------------------------------------------------


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru", "transformer"])
def test_train_on_text_then_sample_from_the_saved_model(capsys, tmp_path, arch):
    code, out, err = run(capsys, "train", *tiny(arch), "--epochs", "2", "--quiet",
                         "--out", str(tmp_path))
    assert code == 0 and err == ""
    vocab, (Xtr, Xva, ytr, yva) = text_split()
    assert out.startswith(f"minnet train: text, the first 600 characters of Tiny Shakespeare "
                          f"(65 distinct) in windows of 8: {len(Xtr)} for training, {len(Xva)} "
                          f"for validation\n")
    assert "2 epochs of Adam(lr=0.01), batches of 32" in out
    assert out.rstrip().endswith("Wrote to " f"{tmp_path}/: model.npz, model.vocab.json, "
                                 "history.png")
    assert {p.name for p in tmp_path.iterdir()} == {"model.npz", "model.vocab.json",
                                                    "history.png"}
    model = mn.Model.load(tmp_path / "model.npz")
    assert [type(layer).__name__ for layer in model.layers] == LAYERS[arch]
    assert mn.datasets.Vocabulary.load(tmp_path / "model.vocab.json") == vocab
    # the figures printed are the saved model's, on the split it was trained on
    train, val = model.evaluate(Xtr, ytr), model.evaluate(Xva, yva)
    assert printed_scores(out) == [f"{train['loss']:.4f}", f"{100 * train['accuracy']:.1f}",
                                   f"{val['loss']:.4f}", f"{100 * val['accuracy']:.1f}"]
    assert "per-token accuracy" in out and "per-sequence" not in out

    for temperature in ("0", "0.8"):
        code, out, err = run(capsys, "sample", str(tmp_path / "model.npz"), "--prefix",
                             "ROMEO:", "--steps", "12", "--temperature", temperature,
                             "--seed", "3")
        assert code == 0 and err == ""
        assert out == mn.sample_text(model, vocab, "ROMEO:", 12, float(temperature),
                                     seed=3) + "\n"
        assert len(out) == len("ROMEO:") + 12 + 1 and out.startswith("ROMEO:")


@pytest.mark.parametrize("arch", ["gru", "transformer"])
def test_train_on_addition_reports_the_sums_it_gets_entirely_right(capsys, tmp_path, arch):
    size = ["--embed-dim", "8", "--blocks", "1"] if arch == "transformer" else ["--hidden", "8"]
    code, out, _ = run(capsys, "train", "--arch", arch, "--data", "addition", "--digits", "2",
                       *size, "--epochs", "1", "--quiet", "--out", str(tmp_path))
    assert code == 0
    assert out.startswith("minnet train: addition, sums of two 2-digit numbers, read digit by "
                          "digit from the units: 4000 for training, 1000 for validation\n")
    X, y = mn.datasets.addition(5000, 2, seed=0)
    model = mn.Model.load(tmp_path / "model.npz")
    assert model.layers[0].num_embeddings == 100 and model.layers[-1].out_features == 10
    scores = []
    for Xs, ys in ((X[:4000], y[:4000]), (X[4000:], y[4000:])):
        metrics = model.evaluate(Xs, ys)
        whole = np.mean(np.all(model.predict(Xs) == ys, axis=1))
        scores += [f"{metrics['loss']:.4f}", f"{100 * metrics['accuracy']:.1f}",
                   f"{100 * whole:.1f}"]
    assert printed_scores(out) == scores and out.count("per-sequence") == 2
    assert {p.name for p in tmp_path.iterdir()} == {"model.npz", "history.png"}  # no vocab


def test_recurrent_archs_clip_the_gradient_norm_unless_told_otherwise(capsys, tmp_path):
    """Plain SGD moves each weight by at most lr * ‖g‖ per step: with the norm clipped to
    1e-6 the weights barely move; with --clip-norm none they move freely."""
    moved, said = {}, {}
    for clip in ("1e-6", "none", None):
        argv = tiny("rnn", "--optimizer", "sgd", "--lr", "0.5", "--epochs", "1", "--quiet",
                    "--out", str(tmp_path / str(clip)))
        code, out, _ = run(capsys, "train", *argv, *(["--clip-norm", clip] if clip else []))
        assert code == 0
        said[clip] = re.search(r"batches of \d+(.*), seed 0", out).group(1)
        start = cli.build_sequence_model("rnn", 65, 65, embed_dim=4, hidden=8)
        trained = mn.Model.load(tmp_path / str(clip) / "model.npz")
        moved[clip] = np.abs(trained.get_flat_params() - start.get_flat_params()).max()
    steps = -(-len(text_split()[1][0]) // 32)
    assert moved["1e-6"] <= steps * 0.5 * 1e-6 < 1e-3 < moved["none"]
    assert said == {"1e-6": ", gradients clipped to norm 1e-06", "none": "",
                    None: ", gradients clipped to norm 5"}  # on by default
    code, out, _ = run(capsys, "train", *tiny("transformer", "--epochs", "1", "--quiet",
                                              "--out", str(tmp_path / "t")))
    assert code == 0 and "clipped" not in out  # not for the transformer


def test_train_debug_checks_a_sequence_model_before_training(capsys, tmp_path):
    code, out, _ = run(capsys, "train", *tiny("lstm", "--epochs", "1", "--debug", "--quiet",
                                              "--out", str(tmp_path)))
    assert code == 0 and "gradient check passed" in out


# ---- check ------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru", "transformer"])
def test_check_builds_the_model_train_builds_and_passes(capsys, arch):
    code, out, _ = run(capsys, "check", *tiny(arch), "--quiet")
    assert code == 0 and "Gradient check PASSED" in out
    network = "Embedding(65, 8) - 1 transformer block (2 heads) - Dense(8, 65)" \
        if arch == "transformer" else f"Embedding(65, 4) - {arch.upper()}(4, 8) - Dense(8, 65)"
    assert out.startswith(f"minnet check: network {network} on 4 sequences of text, seed 0\n")
    assert "0 Embedding" in out  # the table has the embedding's W; the ids are not perturbed


def test_check_json_lists_every_tensor_of_the_sequence_model(capsys):
    code, out, _ = run(capsys, "check", *tiny("gru"), "--batch-size", "2", "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] is True
    assert [(p["layer_index"], p["param"], p["shape"]) for p in report["params"]] == [
        (0, "W", [65, 4]), (1, "Wx", [4, 24]), (1, "Wh", [8, 24]), (1, "bx", [24]),
        (1, "bh", [24]), (2, "W", [8, 65]), (2, "b", [65])]


def test_check_fails_with_exit_1_on_a_wrong_recurrent_backward(capsys, monkeypatch):
    class DoubledWh(mn.LSTM):
        """An LSTM whose dWh is twice the true one."""

        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["Wh"] = 2 * self.grads["Wh"]
            return dx

    monkeypatch.setitem(cli.RECURRENT, "lstm", DoubledWh)
    code, out, _ = run(capsys, "check", *tiny("lstm"), "--quiet")
    assert code == 1 and "DoubledWh(4, 8)" in out.splitlines()[0]
    assert "Gradient check FAILED" in out and "layer 1 (DoubledWh)" in out


# ---- what cannot work is refused in one line -----------------------------------------------


@pytest.mark.parametrize("argv, words", [
    (["train", "--arch", "lstm", "--activation", "tanh"],
     "--activation applies to --arch mlp and conv only, not to --arch lstm"),
    (["train", "--arch", "gru", "--dropout", "0.2"], "--dropout applies to --arch mlp and conv"),
    (["check", "--arch", "rnn", "--batchnorm"], "--batchnorm applies to --arch mlp and conv"),
    (["train", "--arch", "rnn", "--l2", "0.1"], "--l2 applies to --arch mlp and conv"),
    (["train", "--arch", "transformer", "--hidden", "32"],
     "--hidden applies to --arch mlp, conv, rnn, lstm and gru only, not to --arch transformer"),
    (["train", "--arch", "lstm", "--heads", "4"],
     "--heads applies to --arch transformer only, not to --arch lstm"),
    (["train", "--hidden", "8", "--embed-dim", "4"], "--embed-dim applies to --arch rnn, lstm, "
     "gru and transformer only, not to --arch mlp"),
    (["train", "--arch", "rnn", "--data", "addition", "--chars", "100"],
     "--chars applies to --data text only, not to --data addition"),
    (["check", "--arch", "rnn", "--digits", "4"],
     "--digits applies to --data addition only, not to --data text"),
    (["train", "--arch", "lstm", "--data", "spiral"],
     "--arch lstm learns sequences: --data text or addition (got --data spiral)"),
    (["train", "--data", "text"],
     "--data text holds sequences: learn them with --arch rnn, lstm, gru or transformer"),
    (["train", "--arch", "conv", "--data", "addition"], "--data addition holds sequences"),
    (["train", "--arch", "lstm", "--hidden", "32", "16"],
     "--hidden: --arch lstm has one recurrent layer; give it one size"),
    (["train", "--arch", "rnn", "--hidden", "none"], "--hidden: --arch rnn has one recurrent"),
    (["train", "--arch", "rnn", "--chars", "20"],
     "--chars 20 cannot hold one window of --seq-length 32 and the character after it"),
    (["train", "--arch", "rnn", "--chars", "40"],
     "text: 1 sequences are too few to split into a training and a validation set"),
    (["check", "--arch", "transformer", "--embed-dim", "30", "--heads", "4"],
     "cannot build the network: MultiHeadAttention: embed_dim 30 must be divisible by "
     "num_heads 4"),
    (["train", "--arch", "rnn", "--clip-norm", "0"], "--clip-norm: must be a number > 0"),
    (["train", "--arch", "rnn", "--clip-norm", "-1e-3"], "--clip-norm: must be a number > 0"),
    (["check", "--arch", "rnn", "--clip-norm", "5"], "unrecognized arguments: --clip-norm"),
    (["train", "--arch", "gru", "--data", "text", "--batch-size", "5000"],
     "--batch-size 5000 is more than the 1250 training sequences of text; choose at most 1250"),
])
def test_options_that_do_not_apply_give_one_line_and_exit_2(capsys, tmp_path, argv, words):
    code, out, err = run(capsys, *argv, "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert err.startswith("minnet: error: ") and err.count("\n") == 1
    assert words in err
    assert not any(tmp_path.iterdir())


def test_help_lists_the_archs_the_data_and_sample(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "{demo,train,check,sample}" in out
    code, out, _ = run(capsys, "train", "--help")
    text = " ".join(out.split())
    assert code == 0 and "--arch {mlp,conv,rnn,lstm,gru,transformer}" in text
    assert "text (Tiny Shakespeare, one character per step) or addition" in text
    assert "sequence archs only (rnn, lstm, gru, transformer): --embed-dim D" in text
    assert "--clip-norm NORM scale each step's gradients down to this global norm, or none " \
           "(default: 5 for rnn, lstm and gru; none for the others)" in text
    code, out, _ = run(capsys, "sample", "--help")
    assert code == 0 and "--prefix TEXT --steps N [--temperature T] [--seed SEED]" in \
        " ".join(out.split())


# ---- sample: bad input ------------------------------------------------------------------


def test_sample_refuses_what_is_not_a_character_model(capsys, tmp_path, saved):
    (tmp_path / "notes.npz").write_text("not a zip")
    spec = {"format": "minnet", "version": 1, "l2": 0.0, "dtype": "float64",
            "loss": "SoftmaxCE", "layers": [{"class": "Dense", "config": {"width": 3}}]}
    np.savez(tmp_path / "odd.npz", __spec__=np.array(json.dumps(spec)))
    cases = [
        (tmp_path / "missing.npz", f"no saved model at {tmp_path / 'missing.npz'}"),
        (tmp_path, f"{tmp_path} is a folder; give the model file in it, e.g. "
                   f"{tmp_path / 'model.npz'}"),
        (tmp_path / "notes.npz", f"{tmp_path / 'notes.npz'} is not a minnet model file: "
                                 f"model.save writes an .npz (zip) archive, and this file is "
                                 f"not one"),
        (tmp_path / "odd.npz", f"{tmp_path / 'odd.npz'} is a damaged minnet file"),
        (saved["mlp"], f"{saved['mlp']} is not a character model: its first layer is Dense, "
                       f"not an Embedding of character ids"),
        (saved["addition"], f"{saved['addition']} has no vocabulary next to it "
                            f"({saved['addition'].with_suffix('.vocab.json')}); minnet sample "
                            f"takes a model saved by `minnet train --data text`"),
    ]
    for path, words in cases:
        code, out, err = run(capsys, "sample", str(path), "--prefix", "ROMEO:", "--steps", "5")
        assert (code, out) == (2, "") and err == f"minnet: error: {words}\n"


def test_sample_refuses_a_vocabulary_that_does_not_fit(capsys, tmp_path, saved):
    model = tmp_path / "model.npz"
    model.write_bytes(saved["addition"].read_bytes())  # reads 100 ids, scores 10 digits
    vocab = model.with_suffix(".vocab.json")
    vocab.write_bytes(saved["text"].with_suffix(".vocab.json").read_bytes())  # 65 characters
    code, _, err = run(capsys, "sample", str(model), "--prefix", "a", "--steps", "5")
    assert code == 2 and err == (f"minnet: error: {model} is not a character model of {vocab}: "
                                 f"it reads 100 ids and scores 10 classes, and the vocabulary "
                                 f"has 65 characters\n")
    vocab.write_text('{"chars": "abc"}')
    code, _, err = run(capsys, "sample", str(model), "--prefix", "a", "--steps", "5")
    assert code == 2 and err == f"minnet: error: {vocab} is not a minnet vocabulary file " \
                                f"(Vocabulary.save writes one)\n"


@pytest.mark.parametrize("argv, words", [
    (["--prefix", "café", "--steps", "5"],
     "--prefix: characters 'é' are not in the vocabulary of 65 characters"),
    (["--prefix", "", "--steps", "5"], "--prefix: give at least one character"),
    (["--prefix", "a", "--steps", "0"], "--steps: must be a positive integer, got '0'"),
    (["--prefix", "a", "--steps", "5", "--temperature", "-1"],
     "--temperature: must be a number >= 0, got '-1'"),
    (["--prefix", "a"], "the following arguments are required: --steps"),
    (["--steps", "5"], "the following arguments are required: --prefix"),
])
def test_sample_refuses_bad_arguments_in_one_line(capsys, saved, argv, words):
    code, out, err = run(capsys, "sample", str(saved["text"]), *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err


def test_sample_through_python_dash_m(saved):
    proc = subprocess.run([sys.executable, "-m", "minnet", "sample", str(saved["text"]),
                           "--prefix", "First", "--steps", "30", "--seed", "7"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == ""
    model, vocab = mn.Model.load(saved["text"]), mn.datasets.load_text(8, chars=600)[1]
    assert proc.stdout == mn.sample_text(model, vocab, "First", 30, seed=7) + "\n"
