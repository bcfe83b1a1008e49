"""How minnet's grader decides the points of 06_convolutions, outside the students' notebooks.

Each part checks what its grading cell checks: first on the cell's own inputs, so that a
student's feedback shows the report the notebook showed, then on inputs drawn for each student,
so that no answer can be written down in advance (docs/teaching.md, "Declare the graded parts").
"""

import numpy as np

import minnet as mn
from minnet.grading import Backward, Forward, Network, Part, StudentClass, normal

AvgPool2D = StudentClass("AvgPool2D")
RAMP = np.arange(16.0).reshape(1, 1, 4, 4)  # the forward cell's image: each mean is easy to see
CELL_X = np.random.default_rng(1).standard_normal((2, 3, 7, 7))  # the backward cell's input
WINDOWS = [(2, 2), (3, 1), (3, 2)]  # windows that tile the image, then windows that overlap


def digits():
    X, y = mn.datasets.load_digits(images=True)
    X_train, X_test, y_train, y_test = mn.datasets.train_test_split(X, y, test_size=0.2, seed=0)
    return X_train, y_train, X_test, y_test


PARTS = [
    Part("grade-avgpool-forward",
         Forward(AvgPool2D(2), x=RAMP), Forward(AvgPool2D(3, 1), x=RAMP),
         *[Forward(AvgPool2D(k, s), x=normal(2, 3, 7, 7)) for k, s in WINDOWS]),
    Part("grade-avgpool-backward",
         *[Backward(AvgPool2D(k, s), x=CELL_X, seed=0) for k, s in WINDOWS],
         *[Backward(AvgPool2D(k, s), x=normal(2, 3, 7, 7)) for k, s in WINDOWS]),
    Part("grade-avgpool-network",
         Network(layers=lambda: [mn.Conv2D(1, 8, 3, padding=1, seed=0), mn.ReLU(), AvgPool2D(2),
                                 mn.Flatten(), mn.Dense(128, 10, seed=1)],
                 loss=mn.SoftmaxCE, data=digits, optimizer=lambda: mn.Adam(1e-2),
                 epochs=15, batch_size=32, accuracy=0.9, check=16)),
]
