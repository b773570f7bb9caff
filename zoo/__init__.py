"""integral-zoo: a Keras 3 / TensorFlow model zoo built on calculus."""

__version__ = "0.1.0"

__all__ = ["__version__"]
