"""Planted attention and block bugs: the check fails, blames the block that holds the bug, and
the buggy layer checked alone fails on exactly the tensors its mistake spoils.

(The statements that name each mistake are the checker's side, added with its localization
inside blocks.)
"""

import numpy as np
import pytest
from planted import DenseTimes2
from planted_attention import BUGS, StudentAttention, inner_input, small_transformer

import minnet as mn


def check(model, X, y):
    return mn.GradientChecker(mode="full", progress=False).check(model, X, y)


def test_the_corpus_is_what_the_issue_lists_and_more():
    assert len(BUGS) >= 8 and len({b.name for b in BUGS}) == len(BUGS)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_correct_student_attention_passes(seed):
    report = check(*small_transformer(StudentAttention)(seed))
    assert report.passed, str(report)


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
@pytest.mark.parametrize("seed", [0, 1])
def test_planted_bug_fails_in_its_block_on_its_own_tensors(bug, seed):
    model, X, y = bug.build(seed)
    report = check(model, X, y)
    assert not report.passed
    assert [s.layer_index for s in report.suspects] == [bug.suspect], str(report)
    inside = ".".join(str(i) for i in bug.path[1:])
    failed = {(c.layer_index, c.param) for c in report.params if not c.passed}
    for param in bug.wrong - {"input"}:
        assert (bug.suspect, f"{inside}.{param}".lstrip(".")) in failed, str(report)

    layer, x = inner_input(model, X, bug.path)
    alone = mn.check_layer(layer, x)
    assert {c.param for c in [alone.input, *alone.params] if not c.passed} == bug.wrong, \
        str(alone)


def test_an_embedding_first_is_not_blamed_for_a_later_bug():
    model = mn.Model([mn.Embedding(5, 4, seed=0), DenseTimes2(4, 3, seed=1)],
                     loss=mn.SoftmaxCE())
    rng = np.random.default_rng(0)
    report = check(model, rng.integers(0, 5, (3, 4)), rng.integers(0, 3, (3, 4)))
    assert [s.layer_index for s in report.suspects] == [1]
