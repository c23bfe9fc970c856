"""The contenders of `speed.py`: the same GAN step written by hand (bare,
with every trick), by `kgt.GAN` (plain, with tricks, ablated) and as the
classic two-model loop, with the networks, data and measurements they share.
"""

import statistics
import time

import numpy as np

BATCH = 64
LATENT = {"dcgan28": 100, "digits": 32}


def networks(model):
    """The two networks of BENCHMARKS.md for `model`, freshly built."""
    import keras_gan_tricks as kgt

    if model == "dcgan28":
        shape = (28, 28, 1)
        g = kgt.architectures.dcgan_generator(LATENT[model], shape)
        d = kgt.architectures.dcgan_discriminator(shape, dropout=0.3)
    else:
        from keras_gan_tricks.demo import IMAGE_SHAPE, LATENT_DIM

        LATENT[model] = LATENT_DIM
        shape = IMAGE_SHAPE
        g = kgt.architectures.dcgan_generator(LATENT_DIM, shape, base_filters=64)
        d = kgt.architectures.dcgan_discriminator(
            shape, base_filters=64, stages=2, dropout=0.3
        )
    return g, d, shape


def adam():
    import keras

    return keras.optimizers.Adam(2e-4, beta_1=0.5)


# Contenders. Each `make_*` returns `run(data, steps)`, which trains `steps`
# batches of BATCH from `data`.


def make_bare(model):
    import keras
    import tensorflow as tf

    g, d, _ = networks(model)
    latent = LATENT[model]
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    class Bare(keras.Model):
        def __init__(self):
            super().__init__()
            self.generator, self.discriminator = g, d
            self.seed = keras.random.SeedGenerator(0)

        def compile(self):
            super().compile()
            self.d_optimizer, self.g_optimizer = adam(), adam()

        def train_step(self, real):
            n = tf.shape(real)[0]
            z = keras.random.normal((n, latent), seed=self.seed)
            fake = self.generator(z, training=True)
            images = tf.concat([real, fake], axis=0)
            labels = tf.concat([tf.ones((n, 1)), tf.zeros((n, 1))], axis=0)
            with tf.GradientTape() as tape:
                d_loss = bce(labels, self.discriminator(images, training=True))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(
                zip(grads, self.discriminator.trainable_weights, strict=True)
            )
            z = keras.random.normal((n, latent), seed=self.seed)
            with tf.GradientTape() as tape:
                logits = self.discriminator(self.generator(z, training=True))
                g_loss = bce(tf.ones((n, 1)), logits)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(
                zip(grads, self.generator.trainable_weights, strict=True)
            )
            return {"d_loss": d_loss, "g_loss": g_loss}

    bare = Bare()
    bare.compile()

    def run(data, steps):
        bare.fit(data[: steps * BATCH], batch_size=BATCH, verbose=0, shuffle=False)

    return run


def make_handwritten_all(model):
    """kgt-all's tricks by hand, in one TensorFlow `train_step`."""
    import keras
    import tensorflow as tf

    g, d, _ = networks(model)
    latent = LATENT[model]
    ema_g = keras.models.clone_model(g)
    ema_g.set_weights(g.get_weights())
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    smooth, noise, gamma, decay = 0.1, 0.1, 0.1, 0.999
    # The balancer's rule (kgt's defaults): smoothed losses, a streak at
    # D's floor (the entropy of the smoothed target), halve D's rate.
    floor = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1)) / 2
    patience, collapse_below, factor, min_lr = 50, 0.1, 0.5, 1e-6

    class Handwritten(keras.Model):
        def __init__(self):
            super().__init__()
            self.generator, self.discriminator, self.ema_g = g, d, ema_g
            self.seed = keras.random.SeedGenerator(0)
            self.balance = self.add_weight(
                shape=(4,), initializer="zeros", trainable=False, name="balance"
            )

        def compile(self):
            super().compile()
            self.d_optimizer, self.g_optimizer = adam(), adam()
            self.d_optimizer.build(d.trainable_weights)
            self.g_optimizer.build(g.trainable_weights)

        def noisy(self, x):
            return x + noise * keras.random.normal(tf.shape(x), seed=self.seed)

        def train_step(self, data):
            real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
            n = tf.shape(real)[0]
            z = keras.random.normal((n, latent), seed=self.seed)
            fake = self.generator(z, training=True)
            images = self.noisy(tf.concat([real, fake], axis=0))
            labels = tf.concat([(1 - smooth) * tf.ones((n, 1)), tf.zeros((n, 1))], 0)
            with tf.GradientTape() as tape:
                game = bce(labels, self.discriminator(images, training=True))
                x = self.noisy(real)
                with tf.GradientTape() as inner:
                    inner.watch(x)
                    out = tf.reduce_sum(self.discriminator(x, training=True))
                grad = inner.gradient(out, x)
                r1 = (
                    0.5
                    * gamma
                    * tf.reduce_mean(
                        tf.reduce_sum(tf.square(tf.reshape(grad, (n, -1))), axis=1)
                    )
                )
                d_loss = game + r1
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(
                zip(grads, self.discriminator.trainable_weights, strict=True)
            )
            z = keras.random.normal((n, latent), seed=self.seed)
            with tf.GradientTape() as tape:
                logits = self.discriminator(
                    self.noisy(self.generator(z, training=True))
                )
                g_loss = bce(tf.ones((n, 1)), logits)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(
                zip(grads, self.generator.trainable_weights, strict=True)
            )
            t = tf.cast(self.g_optimizer.iterations, "float32")
            k = tf.minimum(decay, (1 + t) / (10 + t))
            for a, w in zip(ema_g.trainable_weights, g.trainable_weights, strict=True):
                a.assign(k * a + (1 - k) * w)
            for a, w in zip(
                ema_g.non_trainable_weights, g.non_trainable_weights, strict=True
            ):
                a.assign(w)
            ema_d, ema_gl, streak, seen = tf.unstack(self.balance)
            s = tf.where(seen > 0, 0.9, 0.0)
            ema_d = s * ema_d + (1 - s) * game
            ema_gl = s * ema_gl + (1 - s) * g_loss
            streak = tf.where(ema_d - floor < collapse_below, streak + 1, 0.0)
            lr = self.d_optimizer.learning_rate
            fire = streak >= patience
            lr.assign(tf.where(fire, tf.maximum(lr * factor, min_lr), lr))
            streak = tf.where(fire, 0.0, streak)
            self.balance.assign(tf.stack([ema_d, ema_gl, streak, seen + 1]))
            return {"d_loss": d_loss, "g_loss": g_loss, "d_lr": lr}

    model_ = Handwritten()
    model_.compile()

    def run(data, steps):
        model_.fit(data[: steps * BATCH], batch_size=BATCH, verbose=0, shuffle=False)

    run.model = model_
    return run


def make_kgt(model, tricks, callbacks_out=None, every=1, package=None):
    import keras_gan_tricks as kgt

    kgt_ = package or kgt
    g, d, _ = networks(model)
    if not tricks:
        gan = kgt_.GAN(g, d, seed=0)
        gan.compile()
        callbacks = []
    else:
        gan = kgt_.GAN(g, d, seed=0, instance_noise=0.1)
        gan.compile(
            label_policy=kgt_.labels.OneSidedSmoothing(0.1),
            penalty=kgt_.penalties.R1(0.1, every=every),
        )
        callbacks = [
            kgt_.callbacks.DiscriminatorLRBalancer(),
            # The averaged generator's batch-norm recalibration runs once per
            # `fit`, not per step: timed on its own (`recalibrate_ms`).
            kgt_.callbacks.GeneratorEMA(0.999, recalibrate_batch_norm=False),
        ]
    if callbacks_out is not None:
        callbacks_out.extend(callbacks)

    def run(data, steps, extra_callbacks=(), epochs=1):
        gan.fit(
            data[: steps * BATCH],
            batch_size=BATCH,
            epochs=epochs,
            verbose=0,
            shuffle=False,
            callbacks=[*callbacks, *extra_callbacks],
        )

    run.gan = gan
    return run


def make_kgt_ablated(model, records, check=False):
    """kgt-plain without the non-finite guard (and, unless `records`,
    without the batch values and metric trackers; with `check`, the guard's
    check of losses and gradients and its snapshot of the running
    statistics kept, but the update applied unconditionally): TensorFlow."""
    import keras_gan_tricks as kgt
    from keras_gan_tricks._backend import step_is_finite

    g, d, _ = networks(model)

    class Unchecked:
        """The TensorFlow step operations, applying without a condition."""

        @staticmethod
        def minimize(loss_fn, variables, optimizer, allow=None):
            import tensorflow as tf

            with tf.GradientTape() as tape:
                loss, aux = loss_fn()
            gradients = tape.gradient(loss, variables)
            finite = tf.constant(True)
            if check:
                finite = step_is_finite(loss, gradients, optimizer, allow)
            optimizer.apply_gradients(zip(gradients, variables, strict=True))
            return loss, aux, finite

    class NoGuard:
        def begin(self, statistics):
            return {"allowed": True}

        def end(self, token, finite):
            pass

        def reset(self):
            pass

        def first_non_finite(self):
            return 0

    class Ablated(kgt.GAN):
        def _train_step(self, data, step_ops):
            return super()._train_step(data, Unchecked)

        def _record(self, d_loss, g_loss, d_aux, training):
            if records:
                return super()._record(d_loss, g_loss, d_aux, training)
            return {"d_loss": d_loss, "g_loss": g_loss}

    gan = Ablated(g, d, seed=0)
    if not check:
        gan.non_finite_guard = NoGuard()
    gan.compile()

    def run(data, steps):
        gan.fit(data[: steps * BATCH], batch_size=BATCH, verbose=0, shuffle=False)

    run.gan = gan
    return run


def make_classic(model):
    import keras

    g, d, shape = networks(model)
    latent = LATENT[model]
    d.compile(adam(), keras.losses.BinaryCrossentropy(from_logits=True))
    combined = keras.Sequential([keras.Input((latent,)), g, d])
    combined.compile(adam(), keras.losses.BinaryCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    labels = np.concatenate([np.ones((BATCH, 1)), np.zeros((BATCH, 1))]).astype(
        "float32"
    )
    ones = np.ones((BATCH, 1), "float32")

    def run(data, steps):
        for i in range(steps):
            real = data[i * BATCH : (i + 1) * BATCH]
            z = rng.standard_normal((BATCH, latent)).astype("float32")
            fake = g.predict(z, verbose=0)
            # The tutorials (Keras 2) set `d.trainable = False` once, after
            # `d.compile` and before `combined.compile`: Keras 2 froze the
            # flag at compile time. Keras 3 reads it when the step is traced,
            # so that recipe never trains the discriminator (a forward pass
            # only). Keras 3's form of the loop sets it before each call.
            d.trainable = True
            d.train_on_batch(np.concatenate([real, fake]), labels)
            d.trainable = False
            z = rng.standard_normal((BATCH, latent)).astype("float32")
            combined.train_on_batch(z, ones)

    run.generator, run.discriminator, run.combined = g, d, combined
    return run


# Floating-point operations, counted from the layer shapes.


def forward_flops(net):
    """Multiply-adds x 2 of one sample's forward pass through `net`."""
    import keras

    from keras_gan_tricks._utils import walk_layers

    total = 0
    for layer in walk_layers(net):
        if isinstance(layer, keras.layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            kh, kw, c_out, c_in = layer.kernel.shape
            h, w = layer.input.shape[1:3]
            total += 2 * kh * kw * c_in * c_out * h * w
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, c_in, c_out = layer.kernel.shape
            h, w = layer.output.shape[1:3]
            total += 2 * kh * kw * c_in * c_out * h * w
    return total


def step_flops(g, d):
    """One GAN step on a batch: G forward for D's fake batch; D forward and
    backward (x3) on real and fake; G forward and backward (x3) and D forward
    and backward to its input (x2) for G's update."""
    fg, fd = forward_flops(g), forward_flops(d)
    return BATCH * (fg + 3 * 2 * fd + 3 * fg + 2 * fd)


def matmul_rate(n=1024, repeats=10):
    """float32 matmul FLOP/s on this machine now (median of `repeats`)."""
    import keras
    from keras import ops

    a = keras.random.normal((n, n), seed=0)
    b = keras.random.normal((n, n), seed=1)
    ops.convert_to_numpy(ops.matmul(a, b))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ops.convert_to_numpy(ops.matmul(a, b))
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times)


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def rss_recorder():
    """A callback that keeps the resident set size after each epoch (`rss`)."""
    import keras

    class RecordRSS(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.rss = []

        def on_epoch_end(self, epoch, logs=None):
            self.rss.append(rss_bytes())

    return RecordRSS()


def data_for(model, steps):
    import keras_gan_tricks as kgt

    rng = np.random.default_rng(0)
    if model == "dcgan28":
        x = np.tanh(rng.standard_normal((steps * BATCH, 28, 28, 1)))
    else:
        real = kgt.datasets.digits()[0]
        x = real[rng.integers(0, len(real), steps * BATCH)]
    return np.asarray(x, "float32")
