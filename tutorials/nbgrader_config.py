"""nbgrader's settings for a course run from this folder (docs/teaching.md).

tutorials/ is laid out as an nbgrader course: the teacher's notebooks, solutions inside, are
in source/ASSIGNMENT/, and `python tutorials/generate.py` makes the student versions shipped
next to this file.
"""

c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)

# The stub that replaces each solution region says what to do, not just that nothing is there.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("not written yet: replace this line '
              'with your code")'}

# The last grading cell of each assignment trains a small network: give a cell time on a
# slow machine.
c.Execute.timeout = 120
