"""Batch normalization as the reference's: its moving variance averages the unbiased batch
variance (torch.nn.BatchNorm2d's running_var), where Keras averages the biased one. The two
differ by n / (n - 1) for n values per channel: 4 / 3 at the 2x2 maps next to a U-Net's
bottleneck at batch 1, which changes what eval-mode (moving-statistics) inference gives.

BatchNormalization is the stock-Keras set's class, TunedBatchNormalization the tuned set's:
its training pass is TensorFlow's fused kernel (measured on the 2-core CPU reference machine;
never on a GPU).
"""

import keras
import tensorflow as tf
from keras import layers


@keras.saving.register_keras_serializable(package="tfi2i")
class BatchNormalization(layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose moving variance averages the unbiased batch
    variance, as the reference's. Measured on facades labels -> photo (3 seeds, tfi2i's runs of
    tools/parity.py, moving variances rescaled after training): eval-mode SSIM 0.2263 -> 0.2307,
    PSNR 13.020 -> 13.110, L1 0.3566 -> 0.3540; training itself is unchanged (it normalizes
    by the batch's own statistics)."""

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or self.renorm or mask is not None:
            return super().call(inputs, training=training, mask=mask)
        before = tf.identity(self.moving_variance)
        outputs = super().call(inputs, training=training)
        # Keras added (1 - momentum) * biased; the unbiased is biased * n / (n - 1).
        added = self.moving_variance - before * self.momentum
        self.moving_variance.assign_add(added / (self._count(inputs) - 1.0))
        return outputs

    def _count(self, inputs):
        """Values per channel the batch statistics were taken over (on every replica)."""
        axes = [i for i in range(len(inputs.shape)) if i != self.axis % len(inputs.shape)]
        count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(inputs), axes)), "float32")
        context = tf.distribute.get_replica_context()
        if self.synchronized and context is not None:
            count *= context.num_replicas_in_sync
        return tf.maximum(count, 2.0)


@keras.saving.register_keras_serializable(package="tfi2i")
class TunedBatchNormalization(BatchNormalization):
    """BatchNormalization that, when training on images (NHWC) with its statistics taken on
    this device alone, normalizes with the fused batch-norm kernel and its fused gradient:
    2.7 -> 0.9 ms forward + backward at 128x128x64 on CPU, where Keras runs separate mean,
    variance and normalize ops. Inference, masks, renorm and statistics synchronized over
    several replicas take BatchNormalization's path.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and self._fusable(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones([channels])
        beta = self.beta if self.center else tf.zeros([channels])
        normalized = normalize_by_batch_statistics(inputs, tf.cast(gamma, "float32"), tf.cast(beta, "float32"),
                                                   self.epsilon)
        # The kernel's batch variance is the unbiased one, which the moving variance averages.
        self.moving_mean.assign(self.moving_mean * self.momentum + normalized.batch_mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + normalized.batch_variance * (1.0 - self.momentum))
        return tf.cast(normalized.y, self.compute_dtype)

    def _fusable(self, inputs, mask):
        if mask is not None or self.renorm or len(inputs.shape) != 4 or self.axis not in (-1, 3):
            return False
        if not self.synchronized:
            return True
        # Synchronized statistics need the other replicas' sums; with one replica there are none.
        context = tf.distribute.get_replica_context()
        return context is not None and context.num_replicas_in_sync == 1


def normalize_by_batch_statistics(x, scale, offset, epsilon):
    """NHWC `x` normalized with its own per-channel statistics over (batch, height, width),
    then scaled and offset, by the fused kernel; also gives `batch_mean` and the unbiased
    `batch_variance`."""
    return tf.raw_ops.FusedBatchNormV3(
        x=x, scale=scale, offset=offset, mean=tf.zeros([0]), variance=tf.zeros([0]), epsilon=epsilon,
        data_format="NHWC", is_training=True,
    )
