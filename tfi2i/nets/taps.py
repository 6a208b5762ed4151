"""A network's activations at named layers: what losses that compare features (PatchNCE) read."""

import keras

from tfi2i.errors import Tfi2iError


class FeatureTaps:
    """Runs `network` up to the named layers and returns their outputs.

    Each set of names gets one Keras model from the network's input to those layers' outputs:
    it shares the network's layers (and so its weights), and computes only what the deepest
    named layer needs, not the rest of the network.
    """

    def __init__(self, network):
        self.network = network
        self._models = {}

    def check(self, layers, who):
        """Raises a one-line error naming the network's layers when one of `layers` is not one."""
        names = [layer.name for layer in self.network.layers]
        missing = [name for name in layers if name not in names]
        if missing:
            raise Tfi2iError(
                f"{who} taps layer(s) {', '.join(missing)}, which network '{self.network.name}' does not "
                f"have; its layers: {', '.join(names)}"
            )

    def shapes(self, layers):
        """The output shape of each named layer, [batch, height, width, channels] with None
        for the sizes the input decides."""
        return [tuple(output.shape) for output in self.model(layers).outputs]

    def model(self, layers):
        layers = tuple(layers)
        if layers not in self._models:
            self.check(layers, "a loss")
            outputs = [self.network.get_layer(name).output for name in layers]
            self._models[layers] = keras.Model(self.network.inputs, outputs, name=f"{self.network.name}_taps")
        return self._models[layers]

    def __call__(self, images, layers, training):
        """The list of the named layers' outputs for `images`."""
        outputs = self.model(layers)(images, training=training)
        return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
