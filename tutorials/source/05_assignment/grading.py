"""How minnet's grader decides the points of 05_assignment, outside the students' notebooks.

Each part checks what its grading cell checks: first on the cell's own inputs, so that a
student's feedback shows the report the notebook showed, then on inputs drawn for each student,
so that no answer can be written down in advance (docs/teaching.md, "Declare the graded parts").
"""

import numpy as np

import minnet as mn
from minnet.grading import Backward, Forward, Network, Part, StudentClass, normal, uniform

Softplus, PReLU = StudentClass("Softplus"), StudentClass("PReLU")
SOFTPLUS_X = 3 * np.random.default_rng(0).standard_normal((8, 5))  # the grading cells' inputs
CELL = np.random.default_rng(1)
ALPHA, PRELU_X = CELL.uniform(0.1, 0.5, 5), CELL.standard_normal((8, 5))


def spiral():
    return mn.datasets.spiral(n_per_class=100, n_classes=3, seed=0)  # trained and measured on


PARTS = [
    Part("grade-softplus",
         Forward(Softplus(), x=[[-1000.0, -1.0, 0.0, 1.0, 1000.0]]),  # where exp(x) overflows
         Forward(Softplus(), x=normal(8, 5, scale=3)),
         Backward(Softplus(), x=SOFTPLUS_X, seed=0),
         Backward(Softplus(), x=normal(8, 5, scale=3))),
    Part("grade-prelu",
         Forward(PReLU(3, alpha=0.25), x=[[-2.0, 0.5, 3.0], [1.0, -4.0, -0.5]]),
         Forward(PReLU(5, alpha=0.25), x=normal(4, 5)),
         Backward(PReLU(5), x=PRELU_X, params={"alpha": ALPHA}, seed=0),
         Backward(PReLU(5), x=normal(8, 5), params={"alpha": uniform(0.1, 0.5)})),
    Part("grade-network",
         Network(layers=lambda: [mn.Dense(2, 32, seed=0), PReLU(32), mn.Dense(32, 32, seed=1),
                                 Softplus(), mn.Dense(32, 3, seed=2)],
                 loss=mn.SoftmaxCE, data=spiral, optimizer=lambda: mn.Adam(1e-2),
                 epochs=200, batch_size=32, accuracy=0.9)),
]
