"""TensorFlow glue: `tf.GradientTape`."""

import tensorflow as tf

from keras_gan_tricks._backend import step_is_finite


def run_step(model, step, args, with_optimizer):
    (data,) = args
    return step(data)


def minimize(loss_fn, variables, optimizer, allow=None):
    with tf.GradientTape() as tape:
        loss, aux = loss_fn()
        # A LossScaleOptimizer (mixed precision) scales; others return `loss`.
        scaled_loss = optimizer.scale_loss(loss)
    gradients = tape.gradient(scaled_loss, variables)
    finite = step_is_finite(
        loss,
        [g.values if isinstance(g, tf.IndexedSlices) else g for g in gradients],
        optimizer,
        allow,
    )
    if not optimizer.built:
        optimizer.build(variables)  # not inside the branch

    def apply():
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return tf.constant(True)

    tf.cond(finite, apply, lambda: tf.constant(False))
    return loss, aux, finite


def input_gradient(fn, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        total = tf.reduce_sum(tf.cast(y, "float32"))
    return tape.gradient(total, x)
