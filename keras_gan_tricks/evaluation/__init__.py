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
- `image_classifier`: a classifier trained on your own labelled images
  (cached by the data's hash, refused when its held-out accuracy is too
  low), whose features and predictions give every figure above on them.
- `inception_v3`: Keras's InceptionV3 (ImageNet weights, cached by Keras)
  as an extractor for any images: FID's network and protocol (299x299,
  2048 pool features), as Keras ships it.

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
    ImageClassifier,
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
from keras_gan_tricks.evaluation.inception import (
    InceptionFeatures,
    WeightsUnavailableError,
    inception_v3,
)
from keras_gan_tricks.evaluation.labelled import (
    IMAGE_CLASSIFIER_VERSION,
    UntrustedClassifierError,
    image_classifier,
)

__all__ = [
    "CLASSIFIER_VERSION",
    "DigitsClassifier",
    "IMAGE_CLASSIFIER_VERSION",
    "ImageClassifier",
    "InceptionFeatures",
    "UntrustedClassifierError",
    "WeightsUnavailableError",
    "class_coverage",
    "classifier_two_sample_test",
    "density_coverage",
    "digits_classifier",
    "features",
    "frechet_distance",
    "frechet_distance_from_features",
    "image_classifier",
    "inception_v3",
    "kernel_distance",
    "kl_to_uniform",
    "mode_coverage",
    "precision_recall",
    "stacked_mode_count",
    "summary",
]
