"""Prototype-part image classifiers (ProtoPool, ProtoPNet-similarity, ProtoTree) in PyTorch.

This package never imports Django: the study platform calls it through its public functions.
"""

__version__ = "0.1.0"
