"""Grading outside the notebook: points that no line of a submission can change.

nbgrader runs a submission in one kernel, and its grading cells call minnet from the same
interpreter in which the submission's code has already run; any line there can patch minnet,
numpy or builtins first. This package decides the points of each declared grading cell
elsewhere: a reference process loads minnet and the teacher's solution before any of the
submission's code exists, and checks the submission's layers, which run in a process of their
own and answer only with plain arrays (docs/teaching.md, "What the grader protects against").

Read in this order:
    parts.py          what a teacher declares in grading.py: Part, Forward, Backward, Network
    reference.py      the reference process: draws inputs, runs the checks, gives the verdicts
    shortcuts.py      a backward that is not one: numeric differences, a forward that keeps state
    remote.py         the submission's process seen from there; its layers as minnet layers
    submission.py     the process that runs the submission's answer cells, and nothing else
    process.py        a child process with a time limit;   wire.py   the messages: JSON + .npy
    preprocessors.py  nbgrader's side (GradeOutside, FlagForReview);   gradebook.py   its guard
"""

from .parts import Backward, Built, Forward, Network, Part, Random, StudentClass, normal, uniform


def autograde_preprocessors() -> list:
    """nbgrader's autograde chain with minnet's grader in it, for a course's nbgrader_config.py:

        from minnet.grading import autograde_preprocessors
        c.Autograde.autograde_preprocessors = autograde_preprocessors()
    """
    from .preprocessors import autograde_preprocessors as chain  # needs nbgrader: only here

    return chain()


__all__ = ["Backward", "Built", "Forward", "Network", "Part", "Random", "StudentClass",
           "autograde_preprocessors", "normal", "uniform"]
