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

# The points of each grading cell that an assignment's grading.py declares (source/NAME/grading.py)
# are decided by minnet's grader, outside the student's notebook, so that no line of a
# submission can change them (docs/teaching.md, "What the grader protects against").
from minnet.grading import autograde_preprocessors  # noqa: E402

c.Autograde.autograde_preprocessors = autograde_preprocessors()
# Each student's random inputs are drawn from this number, the student and the assignment: a
# course sets a number of its own, and keeps it out of what the students can read.
c.GradeOutside.seed = 0
# grading.py is the teacher's: not released to the students, not copied next to their work.
c.CourseDirectory.ignore.append("grading.py")
