"""tfi2i: image-to-image translation for TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"

from tfi2i.errors import Tfi2iError  # noqa: E402

__all__ = ["Tfi2iError", "__version__"]
