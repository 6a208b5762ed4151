"""An independent PyTorch implementation of the reference pix2pix / CycleGAN semantics.

tools/parity.py trains this beside tfi2i on the same files and scores both the same way. It
is written from the papers and the reference repository's documented behaviour, for
measurement only: it is never imported by tfi2i, and torch is the `[parity]` extra.

What it reproduces of the reference (pytorch-CycleGAN-and-pix2pix):
  - networks: the U-Net built from skip blocks (LeakyReLU 0.2 down, ReLU up, dropout 0.5 in
    the ngf*8 blocks), the ResNet generator (reflect padding, 3x3 stride-2 convs, transposed
    convs with output_padding 1), the n-layer PatchGAN (4x4 convs, padding 1); for CUT, the
    anti-aliased variants of both (blurred stride-2 down and up sampling);
    batch norm affine with running statistics, instance norm without either; conv bias only
    where the norm is not batch norm;
  - init: N(0, 0.02) for every conv / transposed-conv kernel, zeros for biases, batch-norm
    scale N(1, 0.02);
  - pix2pix step: G forward once; D is updated on (A, G(A).detach()) and (A, B), each its own
    forward pass, loss halved; then G is updated against the *updated* D: BCE(D(A, G(A)), real)
    + lambda_L1 * L1;
  - CycleGAN step: G_A and G_B updated together (LSGAN, cycle x10, identity x0.5*10) with both
    Ds frozen, then each D on real vs a fake drawn from a 50-image history pool, loss halved;
  - Adam(lr, betas=(beta1, 0.999), eps=1e-8);
  - data: PIL decode, the A|B halves, bicubic resize to load_size, one random crop and one
    flip for both halves, scaling to [-1, 1]; a shuffled pass over the files per epoch
    (unpaired: B drawn at random).
"""

import math
import random

import numpy as np
import torch
from PIL import Image
from torch import nn


# --- networks ----------------------------------------------------------------------------

def norm_layer(norm, channels):
    if norm == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


class UnetBlock(nn.Module):
    """One level of the U-Net: down, the inner levels, up, and the skip around them."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, inner=None, outermost=False,
                 innermost=False, norm="batch", dropout=False):
        super().__init__()
        self.outermost = outermost
        use_bias = norm != "batch"
        input_nc = outer_nc if input_nc is None else input_nc
        down_conv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=use_bias)
        if outermost:
            down = [down_conv]
            up = [nn.ReLU(), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1), nn.Tanh()]
            layers = down + [inner] + up
        elif innermost:
            down = [nn.LeakyReLU(0.2), down_conv]
            up = [nn.ReLU(), nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=use_bias),
                  norm_layer(norm, outer_nc)]
            layers = down + up
        else:
            down = [nn.LeakyReLU(0.2), down_conv, norm_layer(norm, inner_nc)]
            up = [nn.ReLU(), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=use_bias),
                  norm_layer(norm, outer_nc)]
            layers = down + [inner] + up + ([nn.Dropout(0.5)] if dropout else [])
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        # The reference's in-place LeakyReLU makes its skip carry LeakyReLU(x); the ReLU that
        # follows the concatenation makes that the same as carrying x.
        return torch.cat([x, self.model(x)], 1)


def unet_generator(input_nc, output_nc, num_downs, ngf=64, norm="batch", dropout=True):
    block = UnetBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
    for _ in range(num_downs - 5):
        block = UnetBlock(ngf * 8, ngf * 8, inner=block, norm=norm, dropout=dropout)
    block = UnetBlock(ngf * 4, ngf * 8, inner=block, norm=norm)
    block = UnetBlock(ngf * 2, ngf * 4, inner=block, norm=norm)
    block = UnetBlock(ngf, ngf * 2, inner=block, norm=norm)
    return UnetBlock(output_nc, ngf, input_nc=input_nc, inner=block, outermost=True, norm=norm)


class ResnetBlock(nn.Module):
    def __init__(self, channels, norm, dropout):
        super().__init__()
        use_bias = norm != "batch"
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=use_bias),
                  norm_layer(norm, channels), nn.ReLU()]
        layers += [nn.Dropout(0.5)] if dropout else []
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=use_bias), norm_layer(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x)


def binomial(size):
    row = torch.tensor([float(math.comb(size - 1, k)) for k in range(size)])
    square = row[:, None] * row[None, :]
    return square / square.sum()


class BlurDown(nn.Module):
    """The CUT code's anti-aliased downsampling: reflect pad 1, 3x3 binomial blur per channel,
    stride 2."""

    def __init__(self, channels):
        super().__init__()
        self.register_buffer("filt", binomial(3)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        return nn.functional.conv2d(nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2,
                                    groups=x.shape[1])


class BlurUp(nn.Module):
    """The CUT code's anti-aliased upsampling: replicate pad 1, a stride-2 transposed 4x4
    binomial blur (times 4) per channel, cropped to twice the input."""

    def __init__(self, channels):
        super().__init__()
        self.register_buffer("filt", 4 * binomial(4)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        padded = nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
        full = nn.functional.conv_transpose2d(padded, self.filt, stride=2, groups=x.shape[1])  # 2n + 6
        return full[:, :, 3:-3, 3:-3]


def resnet_generator(input_nc, output_nc, ngf=64, n_blocks=9, norm="instance", dropout=False, antialias=False):
    use_bias = norm != "batch"
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=use_bias), norm_layer(norm, ngf), nn.ReLU()]
    for mult in (1, 2):
        width = ngf * mult * 2
        layers += [nn.Conv2d(ngf * mult, width, 3, stride=1 if antialias else 2, padding=1, bias=use_bias),
                   norm_layer(norm, width), nn.ReLU()]
        layers += [BlurDown(width)] if antialias else []
    layers += [ResnetBlock(ngf * 4, norm, dropout) for _ in range(n_blocks)]
    for mult in (4, 2):
        if antialias:
            layers += [BlurUp(ngf * mult), nn.Conv2d(ngf * mult, ngf * mult // 2, 3, padding=1, bias=use_bias)]
        else:
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=use_bias)]
        layers += [norm_layer(norm, ngf * mult // 2), nn.ReLU()]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patchgan_discriminator(input_nc, ndf=64, n_layers=3, norm="batch", antialias=False):
    use_bias = norm != "batch"
    layers = [nn.Conv2d(input_nc, ndf, 4, stride=1 if antialias else 2, padding=1), nn.LeakyReLU(0.2)]
    layers += [BlurDown(ndf)] if antialias else []
    width = ndf
    for n in range(1, n_layers + 1):
        previous, width = width, ndf * min(2**n, 8)
        downsamples = n < n_layers
        stride = 2 if downsamples and not antialias else 1
        layers += [nn.Conv2d(previous, width, 4, stride=stride, padding=1, bias=use_bias),
                   norm_layer(norm, width), nn.LeakyReLU(0.2)]
        layers += [BlurDown(width)] if downsamples and antialias else []
    layers += [nn.Conv2d(width, 1, 4, stride=1, padding=1)]
    return nn.Sequential(*layers)


def init_weights(net, gain=0.02):
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, gain)
            nn.init.zeros_(module.bias)
    return net


def gan_criterion(gan_loss):
    """loss(logits, is_real): the mean over patches of BCE (vanilla) or squared error (lsgan)."""
    elementwise = {"vanilla": nn.BCEWithLogitsLoss(), "lsgan": nn.MSELoss()}[gan_loss]

    def loss(logits, is_real):
        return elementwise(logits, torch.full_like(logits, 1.0 if is_real else 0.0))

    return loss


def set_requires_grad(nets, flag):
    for net in nets:
        for parameter in net.parameters():
            parameter.requires_grad_(flag)


class ImagePool:
    """The reference's history of generated images: once full, half the time a stored
    image is returned (and replaced by the new one)."""

    def __init__(self, size=50):
        self.size, self.images = size, []

    def query(self, image):
        if self.size == 0:
            return image
        if len(self.images) < self.size:
            self.images.append(image)
            return image
        if random.random() > 0.5:
            index = random.randrange(self.size)
            old, self.images[index] = self.images[index], image
            return old
        return image


# --- models --------------------------------------------------------------------------------

def adam(parameters, lr, beta_1):
    return torch.optim.Adam(parameters, lr=lr, betas=(beta_1, 0.999), eps=1e-8)


class Pix2Pix:
    def __init__(self, generator, discriminator, lr=2e-4, beta_1=0.5, lambda_l1=100.0, gan_loss="vanilla"):
        self.generator, self.discriminator = init_weights(generator), init_weights(discriminator)
        self.g_optimizer = adam(generator.parameters(), lr, beta_1)
        self.d_optimizer = adam(discriminator.parameters(), lr, beta_1)
        self.criterion, self.lambda_l1 = gan_criterion(gan_loss), lambda_l1

    def train_step(self, real_a, real_b):
        self.generator.train(), self.discriminator.train()
        fake_b = self.generator(real_a)
        # D first, on a detached G(A) ...
        set_requires_grad([self.discriminator], True)
        self.d_optimizer.zero_grad()
        d_fake = self.criterion(self.discriminator(torch.cat([real_a, fake_b.detach()], 1)), False)
        d_real = self.criterion(self.discriminator(torch.cat([real_a, real_b], 1)), True)
        d_loss = 0.5 * (d_fake + d_real)
        d_loss.backward()
        self.d_optimizer.step()
        # ... then G against the updated D.
        set_requires_grad([self.discriminator], False)
        self.g_optimizer.zero_grad()
        g_gan = self.criterion(self.discriminator(torch.cat([real_a, fake_b], 1)), True)
        g_l1 = nn.functional.l1_loss(fake_b, real_b)
        (g_gan + self.lambda_l1 * g_l1).backward()
        self.g_optimizer.step()
        return {"g_gan": g_gan.item(), "g_l1": g_l1.item(), "d": d_loss.item()}

    def translators(self):
        return {"a2b": self.generator}

    def networks(self):
        return [self.generator, self.discriminator]


class CycleGAN:
    def __init__(self, g_a, g_b, d_a, d_b, lr=2e-4, beta_1=0.5, lambda_cycle=10.0, lambda_identity=0.5,
                 gan_loss="lsgan", pool_size=50):
        self.g_a, self.g_b = init_weights(g_a), init_weights(g_b)  # G_A: A -> B, G_B: B -> A
        self.d_a, self.d_b = init_weights(d_a), init_weights(d_b)  # D_A judges B, D_B judges A
        self.g_optimizer = adam(list(g_a.parameters()) + list(g_b.parameters()), lr, beta_1)
        self.d_optimizer = adam(list(d_a.parameters()) + list(d_b.parameters()), lr, beta_1)
        self.criterion = gan_criterion(gan_loss)
        self.lambda_cycle, self.lambda_identity = lambda_cycle, lambda_identity
        self.pool_a, self.pool_b = ImagePool(pool_size), ImagePool(pool_size)

    def train_step(self, real_a, real_b):
        for net in (self.g_a, self.g_b, self.d_a, self.d_b):
            net.train()
        fake_b, fake_a = self.g_a(real_a), self.g_b(real_b)
        rec_a, rec_b = self.g_b(fake_b), self.g_a(fake_a)
        set_requires_grad([self.d_a, self.d_b], False)
        self.g_optimizer.zero_grad()
        l1 = nn.functional.l1_loss
        idt = self.lambda_identity * self.lambda_cycle
        g_loss = (self.criterion(self.d_a(fake_b), True) + self.criterion(self.d_b(fake_a), True)
                  + self.lambda_cycle * (l1(rec_a, real_a) + l1(rec_b, real_b)))
        if idt > 0:
            g_loss = g_loss + idt * (l1(self.g_a(real_b), real_b) + l1(self.g_b(real_a), real_a))
        g_loss.backward()
        self.g_optimizer.step()
        set_requires_grad([self.d_a, self.d_b], True)
        self.d_optimizer.zero_grad()
        d_loss = 0.0
        for d, real, fake in ((self.d_a, real_b, self.pool_b.query(fake_b.detach())),
                              (self.d_b, real_a, self.pool_a.query(fake_a.detach()))):
            loss = 0.5 * (self.criterion(d(real), True) + self.criterion(d(fake), False))
            loss.backward()
            d_loss += loss.item()
        self.d_optimizer.step()
        return {"g": g_loss.item(), "d": d_loss}

    def translators(self):
        return {"a2b": self.g_a, "b2a": self.g_b}

    def networks(self):
        return [self.g_a, self.g_b, self.d_a, self.d_b]


def pix2pix_model(size, ngf=64, ndf=64, norm="batch"):
    """The reference's pix2pix for size x size images: U-Net of log2(size) levels, 70x70 PatchGAN."""
    num_downs = int(np.log2(size))
    return Pix2Pix(unet_generator(3, 3, num_downs, ngf=ngf, norm=norm), patchgan_discriminator(6, ndf=ndf, norm=norm))


def cyclegan_model(ngf=64, ndf=64, norm="instance"):
    """The reference's CycleGAN: two ResNet-9 generators, two 70x70 PatchGANs."""
    generators = [resnet_generator(3, 3, ngf=ngf, n_blocks=9, norm=norm) for _ in range(2)]
    discriminators = [patchgan_discriminator(3, ndf=ndf, norm=norm) for _ in range(2)]
    return CycleGAN(*generators, *discriminators)


def translate(generator, images, mode="eval"):
    """Translations of float [N, H, W, C] images in [-1, 1], one at a time as the reference
    tests, in its two test modes: 'eval' (dropout off, running statistics: its --eval) or
    'train' (its default: dropout on, the statistics of the one image); None: each module in
    the mode it is in."""
    if mode is not None:
        generator.train(mode == "train")
    device = next(generator.parameters()).device
    outputs = []
    with torch.no_grad():
        for image in images:
            x = torch.from_numpy(np.ascontiguousarray(image[None].transpose(0, 3, 1, 2))).to(device)
            outputs.append(generator(x)[0].cpu().numpy().transpose(1, 2, 0))
    return np.stack(outputs)


# --- data ------------------------------------------------------------------------------------

def load_halves(path):
    image = Image.open(path).convert("RGB")
    width, height = image.size
    half = width // 2
    return image.crop((0, 0, half, height)), image.crop((half, 0, 2 * half, height))


def to_unit(image):
    return (np.asarray(image, np.float32) / 127.5 - 1.0).transpose(2, 0, 1)


def augment(images, load_size, crop_size, flip, rng):
    """The same bicubic resize, random crop and flip for every image of the list."""
    x, y = rng.randint(0, load_size - crop_size), rng.randint(0, load_size - crop_size)
    mirrored = flip and rng.random() > 0.5
    out = []
    for image in images:
        image = image.resize((load_size, load_size), Image.BICUBIC).crop((x, y, x + crop_size, y + crop_size))
        if mirrored:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        out.append(torch.from_numpy(to_unit(image))[None])
    return out


def paired_batches(paths, direction, load_size, crop_size, flip, rng):
    """Endless (A, B) batches of one from aligned A|B files, a shuffled pass per epoch."""
    while True:
        order = list(paths)
        rng.shuffle(order)
        for path in order:
            a, b = load_halves(path)
            if direction == "b2a":
                a, b = b, a
            yield augment([a, b], load_size, crop_size, flip, rng)


def unpaired_batches(paths_a, paths_b, load_size, crop_size, flip, rng):
    """Endless (A, B) batches of one: A in shuffled passes, B at random (each cropped alone)."""
    while True:
        order = list(paths_a)
        rng.shuffle(order)
        for path in order:
            (a,) = augment([Image.open(path).convert("RGB")], load_size, crop_size, flip, rng)
            (b,) = augment([Image.open(rng.choice(paths_b)).convert("RGB")], load_size, crop_size, flip, rng)
            yield a, b
