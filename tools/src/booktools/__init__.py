"""Build-only tools of the course book, in three rooms behind one command; students never need them.

- :mod:`booktools.build`: executing the chapters into the site (a Sphinx extension), measuring their kernels, the
  build's summary;
- :mod:`booktools.publish`: what leaves the build for readers: the PDFs, the citation on every page, term releases,
  the weekly Colab watch;
- :mod:`booktools.grading`: the autograders and the grader: sandboxes, the judge, the grades and the class report,
  Gradescope.

What all three need sits here, at the top: the book's settings and chapters (:mod:`booktools.book`,
:mod:`booktools.chapter`), MyST made plain (:mod:`booktools.myst_plain`), the student notebooks
(:mod:`booktools.notebooks`), the one way a notebook runs (:mod:`booktools.runner`) and the command-line style
(:mod:`booktools.cli`). A room imports these and itself, never another room, and nothing here imports a room.
``python -m booktools`` (:mod:`booktools.__main__`) lists every command.
"""

from booktools import moved

moved.install()
