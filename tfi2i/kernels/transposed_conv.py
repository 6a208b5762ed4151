"""TunedConv2DTranspose: a transposed convolution that computes small inputs and large kernels
as one matrix product. Measured on the 2-core CPU reference machine; never on a GPU."""

import keras
from keras import layers, ops

# The matrix-product path takes inputs of at most this many pixels (8x8) ...
MAX_MATMUL_PIXELS = 64
# ... and kernels of at least this many elements (16 MiB in float32) on inputs of up to 32x32.
# Measured on one core of the 2-core reference machine, forward + backward of a 4x4 stride-2
# transposed conv: 1024 -> 512 channels (the U-Net's innermost blocks) at 2x2 46 -> 13 ms,
# 4x4 62 -> 14 ms, 8x8 61 -> 26 ms; 1024 -> 256 at 16x16 48 -> 37 ms and at 32x32 158 -> 139 ms.
# With smaller kernels the CPU kernel wins beyond 8x8: 512 -> 128 at 32x32 33 vs 38 ms, 256 -> 128
# at 16x16 5.8 vs 6.5 ms; 512 -> 256 at 16x16 ties (20.4 vs 19.9 ms).
MIN_MATMUL_KERNEL = 2**22
MAX_MATMUL_KERNEL_PIXELS = 32 * 32


@keras.saving.register_keras_serializable(package="tfi2i")
class TunedConv2DTranspose(layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` whose 4x4, stride-2, 'same' case (PyTorch's kernel 4,
    stride 2, padding 1) on a small input, or with a large kernel on an input of up to 32x32,
    is one matrix product and an overlap-add.

    The deep blocks of an encoder-decoder hold few pixels and large kernels (16 MiB to 32 MiB
    each): there the CPU's transposed-convolution kernels run at 3-140 GFLOP/s, where a matrix
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
        if not (
            self.kernel_size == (4, 4) and self.strides == (2, 2) and self.padding == "same"
            and self.output_padding is None and self.dilation_rate == (1, 1)
            and self.data_format == "channels_last" and height is not None and width is not None
        ):
            return False
        pixels, kernel_elements = height * width, 16 * shape[-1] * self.filters
        return pixels <= MAX_MATMUL_PIXELS or (
            kernel_elements >= MIN_MATMUL_KERNEL and pixels <= MAX_MATMUL_KERNEL_PIXELS)


def _upsample_by_matmul(x, kernel):
    """conv_transpose(x, kernel), 4x4 kernel, stride 2, 'same' padding, channels last."""
    _, height, width, in_channels = x.shape
    out_channels = kernel.shape[2]
    # Each input pixel's 4x4 block of output contributions. The kernel's (4, 4, out, in) layout
    # is already the left matrix (kernel @ x^T ran 2-4x faster here than x @ kernel^T for few
    # pixels): rows (kernel row, kernel column, out), columns (batch, i, j).
    products = ops.matmul(ops.reshape(kernel, (16 * out_channels, in_channels)),
                          ops.transpose(ops.reshape(x, (-1, in_channels))))
    # Kernel row a = 2 * shift + phase: the tap lands on row 2 * (i + shift) + phase of the
    # output padded by one pixel on each side; likewise for columns. One transpose brings the
    # four (row shift, column shift) parts to the front, whole (unstacking them is a split,
    # where slicing across the phases cost a scattered copy in the gradient).
    products = ops.reshape(products, (2, 2, 2, 2, out_channels, -1, height, width))
    # -> (row shift, column shift, batch, i, j, row phase, column phase, out)
    parts = ops.reshape(ops.transpose(products, (0, 2, 5, 6, 7, 1, 3, 4)), (4, -1, height, width, 2, 2, out_channels))
    padded = 0
    for (row_shift, col_shift), part in zip([(0, 0), (0, 1), (1, 0), (1, 1)], ops.unstack(parts)):
        padded += ops.pad(part, [[0, 0], [row_shift, 1 - row_shift], [col_shift, 1 - col_shift],
                                 [0, 0], [0, 0], [0, 0]])
    padded = ops.reshape(ops.transpose(padded, (0, 1, 3, 2, 4, 5)),
                         (-1, 2 * height + 2, 2 * width + 2, out_channels))
    return padded[:, 1:-1, 1:-1, :]
