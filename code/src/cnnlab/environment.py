"""The environment variables the book reads, each named once, here.

The chapters read them through ``cnnlab``; the build, the tests and the
grader set them by these names, imported from here. A variable set to an
empty (or blank) value counts as unset, as shells and most tools treat it.

=========================  ==================================================
``CNNLAB_MNIST``           which MNIST to use: ``full``, ``sample`` or ``auto``
                           (the default: the full set if it can be had)
``CNNLAB_DATA_DIR``        where the MNIST files are kept (default:
                           ``~/.cache/cnnlab``)
``CNNLAB_THREADS``         how many PyTorch threads a kernel uses (default:
                           one per core it may use)
``CNNLAB_TRAINING_STEPS``  how many batches the chapters' training loops run
                           (default: each chapter's own number)
=========================  ==================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["AFFECTS_OUTPUTS", "DATA_DIR", "MNIST_MODE", "THREADS", "TRAINING_STEPS", "VARIABLES", "setting"]

MNIST_MODE = "CNNLAB_MNIST"
DATA_DIR = "CNNLAB_DATA_DIR"
THREADS = "CNNLAB_THREADS"
TRAINING_STEPS = "CNNLAB_TRAINING_STEPS"
VARIABLES = {
    MNIST_MODE: "which MNIST to use: full, sample or auto",
    DATA_DIR: "where the MNIST files are kept",
    THREADS: "how many PyTorch threads a kernel uses",
    TRAINING_STEPS: "how many batches the chapters' training loops run",
}
# The variables that change what a chapter prints, so that outputs executed under other values are stale.
AFFECTS_OUTPUTS = (MNIST_MODE, TRAINING_STEPS)


def setting(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the variable ``name``, without surrounding blanks, or None when it is unset or empty.

    Examples
    --------
    >>> setting(MNIST_MODE, {MNIST_MODE: " sample "}), setting(MNIST_MODE, {MNIST_MODE: ""}), setting(MNIST_MODE, {})
    ('sample', None, None)
    """
    if name not in VARIABLES:
        raise KeyError(f"{name} is not one of the book's variables: use one of {', '.join(VARIABLES)}.")
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None
