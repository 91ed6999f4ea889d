"""Grading the exercises: the autograders, and the grader that runs each handed-in notebook in a sandbox.

Owns :mod:`~booktools.grading.autograder` (``grading/<chapter>/``, ``python -m booktools autograder``),
:mod:`~booktools.grading.grade` with :mod:`~booktools.grading.sandbox` and :mod:`~booktools.grading.watchdog` (each
submission bounded and watched), :mod:`~booktools.grading.answers` and :mod:`~booktools.grading.judge` (answers
exported as data, judged by pristine self-checks), :mod:`~booktools.grading.gradebook` and
:mod:`~booktools.grading.class_report` (Canvas, Moodle, the class at a glance), :mod:`~booktools.grading.gradescope`
and :mod:`~booktools.grading.command` (``python -m booktools grade`` and ``gradescope``). It imports the shared
modules of :mod:`booktools` and its own, never :mod:`booktools.build` or :mod:`booktools.publish`.
"""
