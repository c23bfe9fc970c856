"""The two players' objectives of a `kgt.GAN`, as plain functions.

Each takes the GAN (its public parts: networks, loss, label policy,
packing, seed and optimizers' step counts) and the `TrickChain` of its
step explicitly; `kgt.GAN.discriminator_objective` and
`generator_objective` call them.
"""

from keras import ops

from keras_gan_tricks._backend import primitives
from keras_gan_tricks.layers import pack_samples
from keras_gan_tricks.tricks import DiscriminatorContext


class OutsideStep:
    """The step operations for objectives evaluated outside a training step
    (by a user, or `evaluate` on a fresh model): nothing to apply."""

    input_gradient = staticmethod(primitives.input_gradient)

    @staticmethod
    def run_if(pred, fn, otherwise):
        return ops.cond(pred, fn, lambda: otherwise)


def fake(gan, batch_size, condition, training):
    """A batch of the generator's samples on fresh latent vectors."""
    z = gan.sample_latent_tensor(batch_size)
    inputs = [z, condition] if gan.conditional else z
    return gan.generator(inputs, training=training)


def discriminate(gan, chain, samples, condition, training):
    """D's logits on `samples`, after the tricks on D's inputs."""
    samples = chain.discriminator_input(samples, training)
    inputs = [samples, condition] if gan.conditional else samples
    return gan.discriminator(inputs, training=training)


def _logits(gan, chain, real, fake_samples, condition, training):
    """D's logits on the real and the fake batch: in one call on both when
    the GAN judges them jointly, else in two."""
    if not gan.joint_discriminator_batch:
        return (
            discriminate(gan, chain, real, condition, training),
            discriminate(gan, chain, fake_samples, condition, training),
        )
    both = None
    if gan.conditional:
        both = ops.concatenate([condition, condition], axis=0)
    samples = ops.concatenate([real, fake_samples], axis=0)
    logits = discriminate(gan, chain, samples, both, training)
    return tuple(ops.split(logits, 2, axis=0))


def _targets(gan, batch_size, training):
    """D's targets for real (1) and fake (0) samples, after the label
    policy when training."""
    real_labels = ops.ones((batch_size,), dtype="float32")
    fake_labels = ops.zeros((batch_size,), dtype="float32")
    if training and gan.label_policy is not None:
        return gan.label_policy(real_labels, fake_labels, seed=gan.seed_generator)
    return real_labels, fake_labels


def discriminator_objective(gan, chain, real, condition, training, step_ops):
    """See `kgt.GAN.discriminator_objective`."""
    step_ops = step_ops or OutsideStep
    fake_samples = ops.stop_gradient(fake(gan, ops.shape(real)[0], condition, training))
    fake_samples = chain.discriminator_fakes(fake_samples, training)
    real = pack_samples(real, gan.pack)
    fake_samples = pack_samples(fake_samples, gan.pack)
    real_logits, fake_logits = _logits(
        gan, chain, real, fake_samples, condition, training
    )
    real_labels, fake_labels = _targets(gan, ops.shape(real)[0], training)
    game = gan.loss.discriminator_loss(
        real_logits, fake_logits, real_labels, fake_labels
    )
    context = DiscriminatorContext(
        discriminate=lambda x: discriminate(gan, chain, x, condition, training),
        real=real,
        fake=fake_samples,
        real_logits=real_logits,
        fake_logits=fake_logits,
        step=gan.g_optimizer.iterations,
        d_step=gan.d_optimizer.iterations,
        training=training,
        seed=gan.seed_generator,
        input_gradient=step_ops.input_gradient,
        run_if=step_ops.run_if,
    )
    terms = chain.discriminator_terms(context)
    extra = sum(terms.values()) if terms else ops.zeros((), "float32")
    return game + extra, {
        "real_logits": real_logits,
        "fake_logits": fake_logits,
        "penalty": extra,
        "game_loss": game,
        "terms": terms,
    }


def generator_objective(gan, chain, batch_size, condition, training, real):
    """See `kgt.GAN.generator_objective`."""
    fake_samples = pack_samples(fake(gan, batch_size, condition, training), gan.pack)
    fake_logits = discriminate(gan, chain, fake_samples, condition, training)
    fake_logits = chain.generator_logits(fake_logits)
    aux = {"fake_logits": fake_logits}
    if not gan.loss.needs_real_logits:
        return gan.loss.generator_loss(fake_logits), aux
    if real is None:
        raise ValueError(
            f"The {type(gan.loss).__name__} loss's generator term needs the "
            "real batch: pass `real=` to generator_objective."
        )
    real = pack_samples(real, gan.pack)
    real_logits = ops.stop_gradient(discriminate(gan, chain, real, condition, training))
    aux["real_logits"] = real_logits
    return gan.loss.generator_loss(fake_logits, real_logits), aux
