"""neurops: neural operators between function spaces and dynamical-systems reconstruction.

Built on PyTorch and Lightning. See https://neurops.readthedocs.io-style docs in ``docs/``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
