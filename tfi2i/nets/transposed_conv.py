"""Transposed convolution that computes small inputs as one matrix product."""

import keras
from keras import layers, ops

# Inputs of at most this many pixels (8x8) take the matrix-product path. Measured on the
# 2-core reference machine, forward + backward of a 4x4 stride-2 transposed conv, 1024 -> 512
# channels (the U-Net's innermost blocks): 1x1 6.3 -> 2.5 ms, 2x2 28 -> 4.9 ms, 4x4 35 -> 6.6 ms,
# 8x8 35 -> 15 ms; at 16x16 the two paths tie (27 vs 28 ms), and beyond it the kernel wins.
MAX_MATMUL_PIXELS = 64


@keras.saving.register_keras_serializable(package="tfi2i")
class Conv2DTranspose(layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` whose 4x4, stride-2, 'same' case (PyTorch's kernel 4,
    stride 2, padding 1) on a small input is one matrix product and an overlap-add.

    The deep blocks of an encoder-decoder hold few pixels and large kernels (8 MiB to 32 MiB
    each): there the CPU's transposed-convolution kernels run at 3-80 GFLOP/s, where a matrix
    product with the kernel as stored streams it once. Other shapes, and inputs whose size is
    not known when traced, take the Keras op. The variables are Conv2DTranspose's own.
    """

    def call(self, inputs):
        if not self._by_matmul(inputs.shape):
            return super().call(inputs)
        outputs = _upsample_by_matmul(inputs, self.kernel)
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs)

    def _by_matmul(self, shape):
        height, width = shape[1], shape[2]
        return (
            self.kernel_size == (4, 4) and self.strides == (2, 2) and self.padding == "same"
            and self.output_padding is None and self.dilation_rate == (1, 1)
            and self.data_format == "channels_last"
            and height is not None and width is not None and height * width <= MAX_MATMUL_PIXELS
        )


def _upsample_by_matmul(x, kernel):
    """conv_transpose(x, kernel), 4x4 kernel, stride 2, 'same' padding, channels last."""
    _, height, width, in_channels = x.shape
    out_channels = kernel.shape[2]
    # Each input pixel's 4x4 block of output contributions, (pixels, 4 * 4 * out_channels).
    # The kernel's (4, 4, out, in) layout is already that matrix; only the small product is
    # transposed (kernel @ x^T runs 2-4x faster here than x @ kernel^T for few pixels).
    blocks = ops.transpose(ops.matmul(
        ops.reshape(kernel, (16 * out_channels, in_channels)),
        ops.transpose(ops.reshape(x, (-1, in_channels)))))
    # Kernel row a = 2 * shift + phase: the tap lands on row 2 * (i + shift) + phase of the
    # output padded by one pixel on each side; likewise for columns.
    blocks = ops.reshape(blocks, (-1, height, width, 2, 2, 2, 2, out_channels))
    padded = 0
    for row_shift in (0, 1):
        for col_shift in (0, 1):
            taps = blocks[:, :, :, row_shift, :, col_shift, :, :]  # (batch, h, w, row phase, col phase, c)
            padded += ops.pad(taps, [[0, 0], [row_shift, 1 - row_shift], [col_shift, 1 - col_shift],
                                     [0, 0], [0, 0], [0, 0]])
    padded = ops.reshape(ops.transpose(padded, (0, 1, 3, 2, 4, 5)),
                         (-1, 2 * height + 2, 2 * width + 2, out_channels))
    return padded[:, 1:-1, 1:-1, :]
