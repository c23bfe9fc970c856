"""Every built-in trick through `tests.trick_case.run_trick_test`: config,
its hooks in the compiled step, its state in `.keras` files, and resuming
with `BackupAndRestore` (CI runs this file on the three backends)."""

import pytest

import keras_gan_tricks as kgt
from tests.nets import mlp_discriminator, mlp_generator
from tests.trick_case import run_trick_test


def _networks():
    return mlp_generator(), mlp_discriminator()


TRICKS = {
    "InstanceNoise": (lambda: kgt.tricks.InstanceNoise(0.1, seed=1), False, ()),
    "AdaptiveInstanceNoise": (
        lambda: kgt.tricks.AdaptiveInstanceNoise(interval=1, speed=100, seed=1),
        False,
        ("noise_stddev", "noise_signal"),
    ),
    "InstanceNoiseDecay": (
        lambda: kgt.tricks.InstanceNoiseDecay(0.2, 0.0, 6),
        False,
        ("noise_stddev",),
    ),
    "GeneratorEMA": (lambda: kgt.tricks.GeneratorEMA(0.9), False, ()),
    "DiscriminatorLRBalancer": (
        lambda: kgt.tricks.DiscriminatorLRBalancer(
            patience=1, warmup=0, target=0.55, recover_below=0.5
        ),
        False,
        ("d_lr", "d_rank"),
    ),
    "LeCam": (lambda: kgt.tricks.LeCam(0.3), False, ("lecam",)),
    "TopK": (lambda: kgt.tricks.TopK(0.5), False, ("topk_fraction",)),
    "ReplayBuffer": (lambda: kgt.tricks.ReplayBuffer(32, seed=1), False, ()),
    "DiffAugment": (lambda: kgt.augment.DiffAugment(seed=1), True, ()),
    "AdaptiveAugment": (
        lambda: kgt.augment.AdaptiveAugment(interval=1, speed=200, seed=1),
        True,
        ("augment_p", "ada_rt"),
    ),
    "ConsistencyRegularization": (
        lambda: kgt.augment.ConsistencyRegularization(seed=1),
        True,
        (),
    ),
}


# Slow: CI runs them on TensorFlow and PyTorch (they pass on JAX too, in minutes).
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRICKS))
def test_every_trick_survives_the_round_trips(name, tmp_path):
    make, on_images, logs = TRICKS[name]
    run_trick_test(make, tmp_path, on_images=on_images, logs=logs)


@pytest.mark.slow
def test_penalty_terms_survive_the_round_trips(tmp_path):
    run_trick_test(
        lambda: kgt.tricks.PenaltyTerm(kgt.penalties.R1(1.0), term="r1_term"),
        tmp_path,
        logs=("r1_term",),
    )


def test_the_harness_catches_state_that_is_not_saved(tmp_path):
    """A trick whose state lives outside its variables loses it on loading:
    the harness must fail on it, or it proves nothing."""

    class Forgetful(kgt.tricks.Trick):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seen = self.add_weight(
                shape=(), initializer="zeros", trainable=False, name="seen"
            )

        def end_step(self, outcome):
            self.seen.assign(self.seen + 1.0)

        def load_own_variables(self, store):
            pass  # forgets its state

    kgt._utils.register(Forgetful)
    with pytest.raises(AssertionError):
        run_trick_test(Forgetful, tmp_path, resume=False)


def test_the_ranking_accuracy_is_computed_once_per_step(monkeypatch):
    """The balancer and adaptive noise both read D's ranking accuracy: the
    step computes it once (`StepOutcome.signal`) for both. Counted per run
    of the step's Python code (once per trace when compiled)."""
    import keras

    from keras_gan_tricks.tricks import signals
    from tests.trick_case import points

    ranks, steps = [], []
    original_rank = signals.ranking_accuracy
    original_objective = kgt.GAN.generator_objective

    def rank(real_logits, fake_logits):
        ranks.append(1)
        return original_rank(real_logits, fake_logits)

    def objective(self, *args, **kwargs):
        if kwargs.get("training", True):
            steps.append(1)
        return original_objective(self, *args, **kwargs)

    monkeypatch.setattr(signals, "ranking_accuracy", rank)
    monkeypatch.setattr(kgt.GAN, "generator_objective", objective)
    keras.utils.set_random_seed(0)
    gan = kgt.recipes.small_images(kgt.GAN(*_networks(), seed=0))
    assert {"DiscriminatorLRBalancer", "AdaptiveInstanceNoise"} <= {
        type(t).__name__ for t in gan.tricks
    }
    gan.fit(points(32), batch_size=16, epochs=1, verbose=0)
    assert steps and len(ranks) == len(steps)
