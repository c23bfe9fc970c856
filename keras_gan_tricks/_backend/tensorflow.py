"""TensorFlow glue: `tf.GradientTape`, and `tf.distribute` replicas.

Under a `tf.distribute` strategy (`MirroredStrategy`, `TPUStrategy`,
`MultiWorkerMirroredStrategy`) each replica runs the step on its share of
the global batch: the loss is divided by the number of replicas before
differentiating (the optimizer sums the replicas' gradients, so the update
is that of the mean over the global batch), the replicas agree on whether
the step is finite, and the conditional update runs in cross-replica
context, where `tf.distribute` allows the optimizer's gradient all-reduce.
"""

import keras
import tensorflow as tf

from keras_gan_tricks._backend import step_is_finite


def run_step(model, step, args, with_optimizer):
    (data,) = args
    return step(data, StepOps)


def _replica_context():
    """The replica context of a multi-replica strategy's step, or None."""
    if not tf.distribute.has_strategy():
        return None
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def replica_id_and_count():
    """This replica's index and the number of replicas (0 and 1 without a
    strategy), for drawing different random numbers on each replica."""
    context = _replica_context()
    if context is None:
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `keras.random.SeedGenerator` whose draws differ between the replicas
    of a `tf.distribute` strategy.

    Each replica holds a copy of the (mirrored) state, so a plain seed
    generator would give every replica the same latent vectors, label noise
    and instance noise; this one offsets the seed by the replica's index.
    Without a strategy it draws exactly what `SeedGenerator` draws.
    """

    def next(self, ordered=True):
        seed = super().next(ordered=ordered)
        replica, count = replica_id_and_count()
        if count == 1:
            return seed
        offset = keras.ops.cast(replica, seed.dtype) * keras.ops.cast(
            0x9E3779B1 % 2**31, seed.dtype
        )
        return seed + keras.ops.stack([offset, keras.ops.zeros_like(offset)])


def seed_generator(seed=None, name=None):
    return ReplicaSeedGenerator(seed, name=name)


def minimize(loss_fn, variables, optimizer, allow=None):
    context = _replica_context()
    with tf.GradientTape() as tape:
        loss, aux = loss_fn()
        # A LossScaleOptimizer (mixed precision) scales; others return `loss`.
        scaled_loss = optimizer.scale_loss(loss)
        if context is not None:
            scaled_loss = scaled_loss / context.num_replicas_in_sync
    gradients = tape.gradient(scaled_loss, variables)
    finite = step_is_finite(
        loss,
        [g.values if isinstance(g, tf.IndexedSlices) else g for g in gradients],
        optimizer,
        allow,
    )
    if not optimizer.built:
        optimizer.build(variables)  # not inside the branch
    pairs = list(zip(gradients, variables, strict=True))
    if context is None:

        def apply():
            optimizer.apply_gradients(pairs)
            return tf.constant(True)

        tf.cond(finite, apply, lambda: tf.constant(False))
        return loss, aux, finite

    # Every replica must take the same branch: finite only if all are.
    failed = tf.cast(tf.logical_not(finite), "float32")
    finite = context.all_reduce(tf.distribute.ReduceOp.SUM, failed) == 0.0

    def cross_replica(strategy, finite, pairs):
        finite = strategy.experimental_local_results(finite)[0]

        def apply():
            strategy.extended.call_for_each_replica(
                optimizer.apply_gradients, args=(pairs,)
            )
            return tf.constant(True)

        tf.cond(finite, apply, lambda: tf.constant(False))

    context.merge_call(cross_replica, args=(finite, pairs))
    return loss, aux, finite


def run_if(pred, fn, otherwise):
    return tf.cond(pred, fn, lambda: otherwise)


def input_gradient(fn, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        total = tf.reduce_sum(tf.cast(y, "float32"))
    return tape.gradient(total, x)


class StepOps:
    """The operations a step uses: this backend's, stateless."""

    minimize = staticmethod(minimize)
    run_if = staticmethod(run_if)
    input_gradient = staticmethod(input_gradient)


def check_limits(gan, penalty, compile_kwargs):
    del gan, penalty, compile_kwargs


def attribute_values(layer):
    return list(vars(layer).values())


def sync_state(model):
    del model
