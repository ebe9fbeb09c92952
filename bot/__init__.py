"""marginguard: a self-hosted guard for leveraged crypto positions."""

__version__ = "0.1.0"
