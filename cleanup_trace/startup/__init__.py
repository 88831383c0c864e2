"""Holds the ``sitecustomize`` fallback; ``DIRECTORY`` is what to put on ``PYTHONPATH``."""
import os

DIRECTORY = os.path.dirname(os.path.abspath(__file__))
