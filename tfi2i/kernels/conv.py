"""TunedConv2D: a convolution that takes a faster path for two shapes the CPU kernels run
slowly: a few output channels (on 2x2 blocks of pixels), and a small input (as one matrix
product). Measured on the 2-core CPU reference machine; never on a GPU."""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

# The CPU kernels compute output channels 16 at a time: a 7x7 conv to 3 channels took as long
# as one to 16 (3.7 ms at 128x128 from 64 channels, 2-core reference machine). On 2x2 pixel
# blocks the same conv has 4x the output channels and a 4x4 kernel (fwd 3.7 -> 1.4 ms,
# filter gradient 3.6 -> 1.9 ms, input gradient 0.9 -> 1.4 ms).
MAX_BLOCKED_FILTERS = 4

# Inputs of at most this many pixels (8x8) take the matrix-product path. Measured on one core
# of the reference machine, forward + backward of a 4x4 stride-2 conv, 512 -> 512 channels (the
# U-Net's innermost encoder blocks): 2x2 11.1 -> 3.8 ms, 4x4 10.6 -> 4.4 ms, 8x8 11.7 -> 7.5 ms;
# at 16x16 the kernel wins (18.0 vs 19.1 ms).
MAX_MATMUL_PIXELS = 64


@keras.saving.register_keras_serializable(package="tfi2i")
class TunedConv2D(layers.Conv2D):
    """`keras.layers.Conv2D` with two faster paths, each the same result within float rounding:

    - a stride-1 'valid' convolution with an odd square kernel and at most 4 filters (the
      image head of a generator) runs on 2x2 pixel blocks: space-to-depth of the input, a
      convolution with the kernel rearranged to match, depth-to-space of the output;
    - a 4x4, stride-2, 'same' convolution (PyTorch's kernel 4, stride 2, padding 1) of an
      input of at most 8x8 pixels (the deep blocks of an encoder, with kernels of 16 MiB or
      more) is one matrix product of its patches with the kernel as stored.

    Other cases, and inputs whose height or width is odd or unknown when traced, take the
    Keras op. The variables are Conv2D's own.
    """

    def call(self, inputs):
        if self._by_blocks(inputs.shape):
            outputs = conv_on_blocks(inputs, self.kernel)
        elif self._by_matmul(inputs.shape):
            outputs = downsample_by_matmul(inputs, self.kernel)
        else:
            return super().call(inputs)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return self.activation(outputs)

    def _plain_layout(self):
        return (self.dilation_rate == (1, 1) and self.groups == 1 and self.data_format == "channels_last")

    def _by_blocks(self, shape):
        size = self.kernel_size[0]
        height, width = shape[1], shape[2]
        return (
            self._plain_layout() and self.filters <= MAX_BLOCKED_FILTERS and self.kernel_size == (size, size)
            and size % 2 == 1 and size > 1 and self.strides == (1, 1) and self.padding == "valid"
            and height is not None and width is not None and height % 2 == 0 and width % 2 == 0
        )

    def _by_matmul(self, shape):
        height, width = shape[1], shape[2]
        return (
            self._plain_layout() and self.kernel_size == (4, 4) and self.strides == (2, 2) and self.padding == "same"
            and height is not None and width is not None and height % 2 == 0 and width % 2 == 0
            and height * width <= MAX_MATMUL_PIXELS
        )


def conv_on_blocks(x, kernel):
    """conv2d(x, kernel, stride 1, 'valid') for an odd square kernel and even height and width,
    computed on 2x2 pixel blocks."""
    return tf.nn.depth_to_space(
        tf.nn.conv2d(tf.nn.space_to_depth(x, 2), blocked_kernel(kernel), 1, "VALID"), 2)


def blocked_kernel(kernel):
    """The (k', k', 4 * in, 4 * out) kernel, k' = (k + 1) / 2, that maps 2x2 input blocks to
    2x2 output blocks as `kernel` (k, k, in, out) maps pixels.

    Output pixel 2Y + e reads input pixel 2Y + e + i = 2(Y + a) + d through tap i = 2a + d - e;
    taps outside 0..k-1 are zeros. The channel orders are space_to_depth's and depth_to_space's:
    (row in block, column in block, channel)."""
    size = kernel.shape[0]
    blocked = (size + 1) // 2
    a, d, e = np.meshgrid(np.arange(blocked), np.arange(2), np.arange(2), indexing="ij")
    taps = 2 * a + d - e
    taps = np.where((taps >= 0) & (taps < size), taps, size)  # index `size` is the zero tap
    padded = tf.pad(kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])
    # (a, d, e, j, in, out), then columns: (a, d, e, b, dj, ej, in, out)
    rows = tf.gather(padded, taps, axis=0)
    both = tf.gather(rows, taps, axis=3)
    in_channels, out_channels = kernel.shape[2], kernel.shape[3]
    # -> (a, b, d, dj, in, e, ej, out)
    both = tf.transpose(both, (0, 3, 1, 4, 6, 2, 5, 7))
    return tf.reshape(both, (blocked, blocked, 4 * in_channels, 4 * out_channels))


def downsample_by_matmul(x, kernel):
    """conv2d(x, kernel), 4x4 kernel, stride 2, 'same' padding (one pixel on every side for an
    even height and width), as the product of x's patches with the kernel."""
    _, height, width, channels = x.shape
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    # Output pixel (i, j) reads padded rows 2i..2i+3 and columns 2j..2j+3: one strided slice
    # per tap, stacked in the kernel's (row, column, channel) order.
    taps = [padded[:, row:row + height:2, column:column + width:2, :] for row in range(4) for column in range(4)]
    patches = tf.reshape(tf.stack(taps, axis=3), (-1, 16 * channels))
    outputs = tf.matmul(patches, tf.reshape(kernel, (16 * channels, kernel.shape[-1])))
    return tf.reshape(outputs, (-1, height // 2, width // 2, kernel.shape[-1]))
