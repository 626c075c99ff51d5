"""Backprop Lab: see and teach backpropagation."""

__version__ = "0.1.0"
