"""TensorFlow glue: `tf.GradientTape`."""

import tensorflow as tf


def run_step(model, step, args, with_optimizer):
    (data,) = args
    return step(data)


def minimize(loss_fn, variables, optimizer):
    with tf.GradientTape() as tape:
        loss, aux = loss_fn()
        # A LossScaleOptimizer (mixed precision) scales; others return `loss`.
        scaled_loss = optimizer.scale_loss(loss)
    gradients = tape.gradient(scaled_loss, variables)
    optimizer.apply_gradients(zip(gradients, variables, strict=True))
    return loss, aux


def input_gradient(fn, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        total = tf.reduce_sum(tf.cast(y, "float32"))
    return tape.gradient(total, x)
