"""Building the book: the chapters executed side by side into Jupyter Book's cache, each kernel's time and memory.

Owns :mod:`~booktools.build.execution` (the Sphinx extension that executes the chapters and keeps the cache true to
``cnnlab``), :mod:`~booktools.build.kernel_usage` and :mod:`~booktools.build.measured_kernel` (each chapter's kernel
peak memory and wall time) and :mod:`~booktools.build.report` (the build's summary, ``python -m booktools report``).
It imports the shared modules of :mod:`booktools` and its own, never :mod:`booktools.publish` or
:mod:`booktools.grading`.
"""
