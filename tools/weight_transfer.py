"""tfi2i's trained weights into tools/reference_torch.py's networks: the same weights through
both implementations, for tests/test_reference_parity.py and tools/cross_score.py."""

import torch
from keras import layers


def weighted_layers(model):
    """Convs and batch norms in creation order (the order the reference's modules() lists)."""
    convs, norms = [], []
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
            convs.append(layer)
        elif isinstance(layer, layers.BatchNormalization):
            norms.append(layer)
    return convs, norms


def copy_weights(keras_model, torch_net):
    """Sets the torch network's parameters (and batch norms' running statistics) to the Keras
    model's."""
    convs, norms = weighted_layers(keras_model)
    torch_convs = [m for m in torch_net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    torch_norms = [m for m in torch_net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if (len(convs), len(norms)) != (len(torch_convs), len(torch_norms)):
        raise ValueError(f"{keras_model.name} has {len(convs)} convs and {len(norms)} batch norms, the torch network "
                         f"{len(torch_convs)} and {len(torch_norms)}")
    for layer, module in zip(convs, torch_convs):
        kernel, *bias = layer.get_weights()
        # Keras: [h, w, in, out] (transposed: [h, w, out, in]); torch: [out, in, h, w] ([in, out, h, w]).
        module.weight.data = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
        if (module.bias is None) != (not bias):
            raise ValueError(f"{layer.name} and its torch twin disagree on a bias")
        if bias:
            module.bias.data = torch.from_numpy(bias[0])
    for layer, module in zip(norms, torch_norms):
        gamma, beta, mean, variance = layer.get_weights()
        module.weight.data, module.bias.data = torch.from_numpy(gamma), torch.from_numpy(beta)
        module.running_mean.data, module.running_var.data = torch.from_numpy(mean), torch.from_numpy(variance)
