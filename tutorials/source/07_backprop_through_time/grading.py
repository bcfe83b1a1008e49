"""How minnet's grader decides the points of 07_backprop_through_time, outside the students'
notebooks.

The students write one function, lstm_step_backward; the notebook's read-only cells make layers
of it (LSTMStep: one step, its state and weights as params; StepLSTM: an LSTM over a sequence).
The grader runs those cells with the answer cell, so the parts check these two classes. Each
part checks what its grading cell checks: first on the cell's own inputs, so that a student's
feedback shows the report the notebook showed, then on inputs drawn for each student, so that
no answer can be written down in advance (docs/teaching.md, "Declare the graded parts").
"""

import numpy as np

import minnet as mn
from minnet.grading import Backward, Network, Part, StudentClass, normal

LSTMStep, StepLSTM = StudentClass("LSTMStep"), StudentClass("StepLSTM")
N, D, H = 4, 3, 5


def cell_step(seed: int) -> tuple[dict, np.ndarray]:
    """A step grading cell's state, weights and input, drawn as the cell draws them."""
    r = np.random.default_rng(seed)
    arguments = dict(prev_h=r.standard_normal((N, H)), prev_c=r.standard_normal((N, H)),
                     Wx=r.normal(0, 0.5, (D, 4 * H)), Wh=r.normal(0, 0.5, (H, 4 * H)),
                     b=r.normal(0, 0.5, 4 * H))
    return arguments, r.standard_normal((N, D))


THROUGH_H, THROUGH_H_X = cell_step(1)  # the cell where dnext_c = 0
BOTH, BOTH_X = cell_step(2)
DRAWN = dict(prev_h=normal(N, H), prev_c=normal(N, H), Wx=normal(D, 4 * H, scale=0.5),
             Wh=normal(H, 4 * H, scale=0.5), b=normal(4 * H, scale=0.5))
SEQUENCE_X = np.random.default_rng(3).standard_normal((N, 6, D))  # the sequence cell's input


def addition():
    X, y = mn.datasets.addition(n=2000, digits=3, seed=0)
    X_new, y_new = mn.datasets.addition(n=500, digits=3, seed=1)
    return X, y, X_new, y_new


PARTS = [
    Part("grade-lstm-step-h",
         Backward(LSTMStep(outputs=1, **THROUGH_H), x=THROUGH_H_X, seed=0),
         Backward(LSTMStep(outputs=1, **DRAWN), x=normal(N, D))),
    Part("grade-lstm-step-c",
         Backward(LSTMStep(**BOTH), x=BOTH_X, seed=0),
         Backward(LSTMStep(**DRAWN), x=normal(N, D))),
    Part("grade-lstm-sequence",  # the checker hands forward an h0 and a c0, and checks dh0, dc0
         Backward(StepLSTM(D, H, seed=0), x=SEQUENCE_X, seed=0),
         Backward(StepLSTM(D, H, seed=0), x=normal(N, 6, D))),
    Part("grade-lstm-network",
         Network(layers=lambda: [mn.Embedding(100, 8, seed=0), StepLSTM(8, 16, seed=1),
                                 mn.Dense(16, 10, seed=2)],
                 loss=mn.SoftmaxCE, data=addition, optimizer=lambda: mn.Adam(1e-2),
                 epochs=10, batch_size=32, accuracy=0.9, check=8)),
]
