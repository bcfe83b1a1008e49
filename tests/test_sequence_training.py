"""Sequence models learn: a character model beats character frequencies on held-out text, and
a recurrent net learns to add digit by digit. Small slices, few epochs, fixed seeds (a few
seconds each)."""

import numpy as np

import minnet as mn


def test_a_character_gru_beats_the_character_frequencies_on_held_out_text():
    text, vocab, X, y = mn.datasets.load_text(seq_length=32, chars=20_000)
    held_out = len(X) // 10  # the last 10 % of the slice: text the model never reads
    Xtr, ytr, Xva, yva = X[:-held_out], y[:-held_out], X[-held_out:], y[-held_out:]
    V = len(vocab)
    model = mn.Model([mn.Embedding(V, 16, seed=0), mn.GRU(16, 64, seed=1),
                      mn.Dense(64, V, seed=2)], loss=mn.SoftmaxCE())
    history = model.fit(Xtr, ytr, epochs=2, batch_size=32, optimizer=mn.Adam(1e-2),
                        validation_data=(Xva, yva), clip_norm=5.0, progress=False)
    # the best any fixed distribution over characters can do on these targets: their own
    # frequencies, whose cross-entropy is their entropy
    p = np.bincount(yva.ravel(), minlength=V) / yva.size
    frequencies = -np.sum(p[p > 0] * np.log(p[p > 0]))
    assert history.val_loss[-1] < frequencies - 0.5, (history.val_loss, frequencies)
    assert history.val_loss[-1] < history.val_loss[0] and len(history.grad_norm) == 2
    sampled = mn.sample_text(model, vocab, "ROMEO:", steps=100, temperature=0.5)
    assert sampled.startswith("ROMEO:") and len(sampled) == 106


def test_a_recurrent_net_learns_to_add_digit_by_digit():
    X, y = mn.datasets.addition(n=2000, digits=3, seed=0)
    model = mn.Model([mn.Embedding(100, 16, seed=0), mn.RNN(16, 32, seed=1),
                      mn.Dense(32, 10, seed=2)], loss=mn.SoftmaxCE())
    model.fit(X, y, epochs=10, batch_size=32, optimizer=mn.Adam(1e-2), progress=False)
    for digits in (3, 5):  # sums it has not seen, and longer numbers than it was taught
        Xt, yt = mn.datasets.addition(n=1000, digits=digits, seed=1)
        per_sequence = (model.predict(Xt) == yt).all(axis=1).mean()
        assert per_sequence >= 0.99, (digits, per_sequence)
