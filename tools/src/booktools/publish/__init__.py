"""Publishing the built book: the PDFs, the citation on every page, term releases and the weekly Colab watch.

Owns :mod:`~booktools.publish.pdf` and ``print/`` (the two PDF editions, ``python -m booktools pdf``),
:mod:`~booktools.publish.footer` and :mod:`~booktools.publish.citation` (the foot of every page),
:mod:`~booktools.publish.release` (``python -m booktools release``) and :mod:`~booktools.publish.colab_watch`
(``python -m booktools colab-watch``). It imports the shared modules of :mod:`booktools` and its own, never
:mod:`booktools.build` or :mod:`booktools.grading`.
"""
