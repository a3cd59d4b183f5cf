"""The version of shoal, in a leaf module: importing it loads nothing else of the package."""

__version__ = "0.1.0"
