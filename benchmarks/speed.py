"""Speed of kgt.GAN's step against a hand-written step and the classic loop.

benchmarks/BENCHMARKS.md section 1. Contenders, same networks, same data,
batch 64:

    bare       a minimal hand-written `train_step` as in Keras's DCGAN guide
               (GradientTape, two optimizers, BCE from logits; TensorFlow)
    kgt-plain  kgt.GAN, no tricks
    kgt-all    kgt.GAN with one-sided label smoothing, instance noise, R1,
               DiscriminatorLRBalancer and GeneratorEMA (its once-per-fit
               batch-norm recalibration timed apart, as `recalibrate_ms`)
    kgt-lazy   kgt-all with lazy R1 (`R1(gamma, every=16)`, StyleGAN2's
               remedy for R1's cost: computed every 16th step, 16x)
    handwritten-all
               kgt-all's tricks written by hand in a `train_step`, the way a
               careful user would (TensorFlow): smoothed labels, instance
               noise on every D input, R1 on the real batch, the generator
               average and the balancer's rule, all in the step
    kgt-plain-unguarded, kgt-plain-unlogged, kgt-plain-uncond
               (with --ablation, TensorFlow) kgt-plain without its non-finite
               guard (no finiteness check of losses and gradients, no
               conditional apply, no snapshot of the running statistics);
               also without its per-step records (batch values, metric
               trackers); with the guard's check and snapshot but the
               update applied unconditionally: what each part costs
    old-plain, old-all
               kgt-plain and kgt-all on an earlier copy of the package
               (`--old-package DIR`, a folder holding `keras_gan_tricks_old`,
               the package renamed), to compare versions in one run
    classic    the seed tutorials' loop: generator.predict, then
               discriminator.train_on_batch on real+fake, then
               combined.train_on_batch with the discriminator frozen
               (`trainable` set before each call, as Keras 3 needs)

All in one process: each contender is warmed up, then the contenders
alternate (rotating the order each round), each timing `steps` steps; a ratio
is the median over rounds of the two contenders' per-step times in the same
round (and `*_fast`: the ratio of their fastest rounds). Utilization: the
step's floating-point operations, counted from the layer shapes, per second,
over a float32 matmul's rate measured in the same run. Memory: resident set
size after epoch 2 and epoch 20 of kgt-all.

    python benchmarks/speed.py                 # full: 21 rounds
    python benchmarks/speed.py --quick         # 3 rounds, fewer steps
    python benchmarks/speed.py --rounds 7      # any number of rounds
    python benchmarks/speed.py --json out.json --backend tensorflow
    python benchmarks/speed.py --old-package /tmp/old   # with old-plain, old-all

Why 21 rounds, and the `*_fast` ratios: on the shared 2-core machine this
was written on, a contender's round either runs at the speed of its work or
is capped at one slower time per step whatever the work (about 258 ms per
DCGAN step, 22.5 ms per digits step). Rounds where both contenders hit the
cap give a ratio of 1 and rounds where one does give one far off, so a
median over 7 rounds could land anywhere (a digits run measured
kgt-plain/bare 1.03 and the next, on the same code, 1.52). 21 rounds steady
the median; the `*_fast` ratios (the two contenders' fastest rounds) show
what the work itself costs. Every round's times are in the JSON
(`round_ms`).
"""

import argparse
import statistics
import sys
import time

import numpy as np
from _common import parse_args, per_step_ms, round_ratios, write_json


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--models", nargs="*", default=["dcgan28", "digits"])
    parser.add_argument(
        "--rounds", type=int, default=None, help="default: 21, or 3 with --quick"
    )
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="add kgt-plain without its guard, and without its records",
    )
    parser.add_argument(
        "--old-package",
        help="a folder with an earlier version as `keras_gan_tricks_old`",
    )
    return parse_args(parser, argv)


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


PAIRS = {
    "kgt_plain_over_bare": ("kgt-plain", "bare"),
    "kgt_all_over_bare": ("kgt-all", "bare"),
    "kgt_all_over_kgt_plain": ("kgt-all", "kgt-plain"),
    "kgt_lazy_over_bare": ("kgt-lazy", "bare"),
    "classic_over_kgt_all": ("classic", "kgt-all"),
    "kgt_all_over_handwritten_all": ("kgt-all", "handwritten-all"),
    "kgt_plain_over_old_plain": ("kgt-plain", "old-plain"),
    "kgt_all_over_old_all": ("kgt-all", "old-all"),
    "kgt_plain_over_unguarded": ("kgt-plain", "kgt-plain-unguarded"),
    "kgt_plain_over_uncond": ("kgt-plain", "kgt-plain-uncond"),
    "uncond_over_unguarded": ("kgt-plain-uncond", "kgt-plain-unguarded"),
    "unguarded_over_unlogged": ("kgt-plain-unguarded", "kgt-plain-unlogged"),
    "unlogged_over_bare": ("kgt-plain-unlogged", "bare"),
}


def ratios(times):
    """Each pair's ratio from per-round times `{contender: [t, ...]}`.

    `KEY`: the median over rounds of the two contenders' ratio in the same
    round (the protocol's figure). `KEY_fast`: the ratio of the two
    contenders' fastest rounds. On a machine whose slow phases cap every
    step at one time whatever its work (as here: about 258 ms per DCGAN
    step, 22.5 ms per digits step), rounds where both contenders hit the
    cap give a ratio of 1 and pull the median towards it; the fastest
    rounds show what the work itself costs. None where a contender is
    missing (no `bare` outside TensorFlow).
    """
    out = {}
    for key, (a, b) in PAIRS.items():
        if a not in times or b not in times:
            out[key] = out[f"{key}_fast"] = None
            continue
        out[key], out[f"{key}_fast"] = round_ratios(times[a], times[b])
    return out


def bench_model(model, rounds, steps, memory_epochs, old_package=None, ablation=False):
    import keras

    backend = keras.backend.backend()
    contenders = {}
    if backend == "tensorflow":
        contenders["bare"] = make_bare(model)
    contenders["kgt-plain"] = make_kgt(model, tricks=False)
    contenders["kgt-all"] = make_kgt(model, tricks=True)
    contenders["kgt-lazy"] = make_kgt(model, tricks=True, every=16)
    contenders["classic"] = make_classic(model)
    if backend == "tensorflow":
        contenders["handwritten-all"] = make_handwritten_all(model)
    if ablation and backend == "tensorflow":
        contenders["kgt-plain-unguarded"] = make_kgt_ablated(model, records=True)
        contenders["kgt-plain-unlogged"] = make_kgt_ablated(model, records=False)
        contenders["kgt-plain-uncond"] = make_kgt_ablated(
            model, records=True, check=True
        )
    if old_package is not None:
        contenders["old-plain"] = make_kgt(model, tricks=False, package=old_package)
        contenders["old-all"] = make_kgt(model, tricks=True, package=old_package)
    data = data_for(model, steps)
    for run in contenders.values():
        run(data, steps)  # warm up: trace and compile
    times = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            contenders[name](data, steps)
            times[name].append((time.perf_counter() - start) / steps)
        print(
            f"  {model} round {r + 1}: "
            + ", ".join(f"{n} {1000 * t[-1]:.1f} ms" for n, t in times.items()),
            flush=True,
        )

    gan = contenders["kgt-plain"].gan
    flops = step_flops(gan.generator, gan.discriminator)
    rate = matmul_rate()
    plain = statistics.median(times["kgt-plain"])
    recalibrate = []
    for _ in range(3):
        start = time.perf_counter()
        contenders["kgt-all"].gan.recalibrate_batch_norm()
        recalibrate.append(time.perf_counter() - start)
    record = rss_recorder()
    contenders["kgt-all"](data, max(1, steps // 2), [record], epochs=memory_epochs)
    result = {
        # `round_ms`, every round's time per step: this machine's timings
        # are bimodal.
        **per_step_ms(times),
        **ratios(times),
        # What Keras's jit_compile="auto" resolved to: on TensorFlow, no XLA
        # on a machine without a GPU.
        "jit_compile": bool(gan.jit_compile),
        "step_gflop": flops / 1e9,
        "matmul_gflops": rate / 1e9,
        "utilization": flops / plain / rate,
        "utilization_fast": flops / min(times["kgt-plain"]) / rate,
        "rss_mb_epoch_2": record.rss[1] / 2**20,
        f"rss_mb_epoch_{memory_epochs}": record.rss[-1] / 2**20,
        "memory_growth": record.rss[-1] / record.rss[1] - 1,
        # GeneratorEMA's batch-norm recalibration at the end of each fit
        # (16 generator calls of 256 latents), once per fit.
        "recalibrate_ms": 1000 * statistics.median(recalibrate),
    }
    return result


def main(argv=None):
    args = _parse(argv)  # sets the backend: Keras is imported after
    rounds = args.rounds or (3 if args.quick else 21)
    if rounds < 1:
        raise SystemExit(f"--rounds must be at least 1. Received: {rounds}")
    steps = {"dcgan28": 5 if args.quick else 10, "digits": 10 if args.quick else 29}
    memory_epochs = 6 if args.quick else 20
    old = None
    if args.old_package:
        sys.path.insert(0, args.old_package)
        import keras_gan_tricks_old as old
    results = {}
    for model in args.models:
        print(f"{model}:", flush=True)
        results[model] = bench_model(
            model, rounds, steps[model], memory_epochs, old, args.ablation
        )
    print()
    keys = [
        *(k for key in PAIRS for k in (key, f"{key}_fast")),
        "utilization",
        "utilization_fast",
        "memory_growth",
    ]
    print(f"{'':28}" + "".join(f"{m:>12}" for m in results))
    for key in keys:
        cells = []
        for row in results.values():
            value = row[key]
            cells.append("n/a" if value is None else f"{value:.3f}")
        print(f"{key:28}" + "".join(f"{c:>12}" for c in cells))
    for model, row in results.items():
        print(
            f"{model}: "
            + ", ".join(f"{n} {v:.1f} ms/step" for n, v in row["ms_per_step"].items())
            + f"; {row['step_gflop']:.2f} GFLOP/step, matmul {row['matmul_gflops']:.0f}"
            " GFLOP/s"
        )
    # The headline figures, for the JSON's top level: the DCGAN's.
    first = results[args.models[0]]
    summary = {key: first[key] for key in keys}
    if args.json:
        write_json(args.json, {**summary, "models": results, "rounds": rounds})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
