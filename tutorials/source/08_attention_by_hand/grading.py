"""How minnet's grader decides the points of 08_attention_by_hand, outside the students'
notebooks.

The students write two methods of SelfAttention (a read-only AttentionLayer with their backward):
softmax_backward, which the read-only cell KeySoftmax makes the backward of a layer, and
attention_backward. The grader runs the read-only cells with the answer cell, so the parts check
these two classes. Each part checks what its grading cell checks: first on the cell's own inputs,
so that a student's feedback shows the report the notebook showed, then on inputs drawn for each
student, so that no answer can be written down in advance (docs/teaching.md, "Declare the graded
parts"). Forward is given, but a submission could redefine it: each part also checks its values.
"""

import numpy as np

import minnet as mn
from minnet.grading import Backward, Forward, Part, StudentClass, normal

SelfAttention, KeySoftmax = StudentClass("SelfAttention"), StudentClass("KeySoftmax")
SCORES = np.random.default_rng(1).standard_normal((2, 3, 5, 5))  # the softmax cell's (N, H, T, T)
CELL_X = np.random.default_rng(2).standard_normal((3, 5, 8))  # the layer cell's (N, T, D)
LAYERS = [SelfAttention(8, heads, causal=causal, seed=3)  # the layer cell's, heads and mask
          for heads, causal in [(2, True), (1, False), (4, True), (2, False)]]
BLOCK = np.random.default_rng(4)
BLOCK_X, BLOCK_Y = BLOCK.standard_normal((3, 6, 8)), BLOCK.integers(0, 5, (3, 6))


def transformer(attention: mn.Layer) -> mn.Model:
    """The last grading cell's model: one pre-norm Transformer block around `attention`."""
    block = mn.Sequential(
        mn.Residual(mn.LayerNorm(8), attention),
        mn.Residual(mn.LayerNorm(8), mn.Dense(8, 32, seed=6), mn.GELU(), mn.Dense(32, 8, seed=7)))
    return mn.Model([mn.Dense(8, 8, seed=8), mn.PositionalEncoding(6, 8), block, mn.LayerNorm(8),
                     mn.Dense(8, 5, seed=9)], loss=mn.SoftmaxCE())


class InABlock:
    """The student's SelfAttention inside transformer(), checked as a whole by
    mn.GradientChecker on sequences X (N, 6, 8) and targets y (N, 6): the cell's, or, if None,
    drawn for each student."""

    def __init__(self, X: np.ndarray | None = None, y: np.ndarray | None = None) -> None:
        self.X, self.y = X, y

    def run(self, grading) -> str:
        X = grading.rng.standard_normal((3, 6, 8)) if self.X is None else self.X
        y = grading.rng.integers(0, 5, (3, 6)) if self.y is None else self.y
        model = transformer(grading.student(SelfAttention(8, 2, causal=True, seed=5)))
        report = mn.GradientChecker(progress=False).check(model, X, y)
        grading.audit()
        if not report.passed:
            raise mn.GradientCheckError(report)
        inputs = "the cell's inputs" if self.X is not None else "inputs drawn for you"
        return f"✓ {str(report).splitlines()[0]} ({inputs})"


PARTS = [
    Part("grade-softmax-backward",
         Backward(KeySoftmax(), x=SCORES, seed=0),
         Forward(KeySoftmax(), x=normal(2, 3, 5, 5)),
         Backward(KeySoftmax(), x=normal(2, 3, 5, 5))),
    Part("grade-attention-backward",
         *[Backward(layer, x=CELL_X, seed=0) for layer in LAYERS],
         *[Forward(layer, x=normal(3, 5, 8)) for layer in LAYERS],
         *[Backward(layer, x=normal(3, 5, 8)) for layer in LAYERS]),
    Part("grade-attention-block", InABlock(BLOCK_X, BLOCK_Y), InABlock()),
]
