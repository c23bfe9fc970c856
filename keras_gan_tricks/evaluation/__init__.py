"""Quality figures for generated samples.

- `mode_coverage`: modes captured, high-quality fraction and reverse KL on
  the 2D Gaussian mixtures (PacGAN's protocol, Lin et al. 2018).
- `digits_classifier`: a small CNN trained once on scikit-learn's digits
  with a fixed seed and cached on disk; its held-out accuracy is reported.
- `frechet_distance`: the Fréchet distance between two sets of digit images
  in that classifier's penultimate features (FID's recipe with a digits
  network in place of Inception).
- `class_coverage`: classes generated and the KL of their histogram to
  uniform.
- `stacked_mode_count`: modes covered among stacked digits (1,000 possible).
- `kl_to_uniform`: the KL of any histogram of counts to uniform.

On features of any extractor (arrays `(n, d)`; `features(images,
extractor)` takes them from a Keras model, a callable or the digits
classifier):

- `kernel_distance`: KID's unbiased MMD² with the cubic polynomial kernel.
- `precision_recall`: improved precision and recall (k-NN manifolds).
- `density_coverage`: density and coverage (k-NN balls around real samples).
- `classifier_two_sample_test`: how well a classifier tells them apart.
- `frechet_distance_from_features`: the Fréchet distance."""

from keras_gan_tricks.evaluation.classifier import (
    CLASSIFIER_VERSION,
    DigitsClassifier,
    class_coverage,
    digits_classifier,
    features,
    frechet_distance,
    stacked_mode_count,
    summary,
)
from keras_gan_tricks.evaluation.figures import (
    classifier_two_sample_test,
    density_coverage,
    frechet_distance_from_features,
    kernel_distance,
    kl_to_uniform,
    mode_coverage,
    precision_recall,
)

__all__ = [
    "CLASSIFIER_VERSION",
    "DigitsClassifier",
    "class_coverage",
    "classifier_two_sample_test",
    "density_coverage",
    "digits_classifier",
    "features",
    "frechet_distance",
    "frechet_distance_from_features",
    "kernel_distance",
    "kl_to_uniform",
    "mode_coverage",
    "precision_recall",
    "stacked_mode_count",
    "summary",
]
