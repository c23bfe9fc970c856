"""GAN builders that follow the tricks, and a checker for known gotchas.

The DCGAN guidelines (Radford et al. 2016) and Chollet's "bag of tricks":
strided (transposed) convolutions instead of pooling, kernel sizes divisible
by the stride (else checkerboard artifacts), LeakyReLU rather than ReLU in
the discriminator (sparse gradients hinder GAN training), batch
normalization in the generator, dropout in the discriminator, and `tanh` at
the generator's output for data scaled to [-1, 1]. For low-dimensional
data (the 2D Gaussian mixtures), the MLPs of PacGAN (Lin et al. 2018). For
larger images (32 to 128 pixels), a residual pair in the style of SNGAN and
BigGAN, with spectral normalization in the discriminator.
"""

from keras_gan_tricks.architectures.builders import (
    dcgan_discriminator,
    dcgan_generator,
    mlp_discriminator,
    mlp_generator,
)
from keras_gan_tricks.architectures.checks import (
    ArchitectureWarning,
    Finding,
    check_architecture,
    ends_in_tanh,
    is_graph_model,
    joint_batch,
    shape_mismatch,
)
from keras_gan_tricks.architectures.residual import (
    resnet_discriminator,
    resnet_generator,
)

__all__ = [
    "ArchitectureWarning",
    "Finding",
    "check_architecture",
    "dcgan_discriminator",
    "dcgan_generator",
    "ends_in_tanh",
    "is_graph_model",
    "joint_batch",
    "mlp_discriminator",
    "mlp_generator",
    "resnet_discriminator",
    "resnet_generator",
    "shape_mismatch",
]
