"""Tested helpers for the course book *Convolutional neural networks for health research*.

Import the module you need, as the chapters do::

    from cnnlab import conv, diagrams, mri
"""

__version__ = "0.1.0"
