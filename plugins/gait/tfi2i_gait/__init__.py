"""tfi2i-gait: the gradient-adjustment loss of GAIT, registered as tfi2i loss `gait_sobel`."""

__version__ = "0.1.0"
