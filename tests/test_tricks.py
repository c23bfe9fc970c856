"""The in-step trick protocol (`kgt.tricks`): a trick of one's own composed
with the built-in ones, files saved by 0.1.0, and the package's imports."""

import ast
import os

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from tests.nets import EachBatch, mlp_discriminator, mlp_generator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "keras_gan_tricks")
DATA = os.path.join(ROOT, "tests", "data")


# The guide's "Write your own trick", verbatim (tests/test_docs.py checks
# that docs/own-trick.md shows this class).
@keras.saving.register_keras_serializable(package="my_tricks")
class ShiftConsistency(kgt.tricks.Trick):
    """D should not care about a small shift of the real samples (a
    consistency penalty, bCR-style); counts the steps it ran."""

    loss_names = ("consistency",)

    def __init__(self, weight=1.0, shift=0.05, **kwargs):
        super().__init__(**kwargs)
        self.weight, self.shift = weight, shift
        self.steps = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="steps"
        )

    def discriminator_loss(self, context):
        shifted = context.discriminate(context.real + self.shift)
        gap = keras.ops.square(shifted - context.real_logits)
        return {"consistency": self.weight * keras.ops.mean(gap)}

    def end_step(self, outcome):
        self.steps.assign(self.steps + keras.ops.cast(outcome.finite, "float32"))

    def logs(self):
        return {"consistency_steps": self.steps}

    def get_config(self):
        return {**super().get_config(), "weight": self.weight, "shift": self.shift}


def two_clusters(n=256):
    rng = np.random.default_rng(0)
    centres = np.array([[1.0, 1.0], [-1.0, -1.0]], "float32")
    return (centres[rng.integers(0, 2, n)] + 0.1 * rng.standard_normal((n, 2))).astype(
        "float32"
    )


def test_own_trick_composes_with_the_built_in_ones_and_survives_saving(tmp_path):
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    consistency = ShiftConsistency(weight=5.0)
    gan.compile(
        penalty=kgt.penalties.R1(1.0),
        tricks=[kgt.layers.InstanceNoise(0.1), consistency],
    )
    seen = []
    history = gan.fit(
        two_clusters(),
        batch_size=32,
        epochs=2,
        verbose=0,
        callbacks=[
            kgt.callbacks.GeneratorEMA(0.9),
            kgt.callbacks.InstanceNoiseDecay(0.1, 0.0, 8),
            EachBatch(lambda batch, logs: seen.append(gan.batch_values())),
        ],
    )
    logs = history.history
    # Its term is reported and is part of D's loss (with R1's).
    assert logs["consistency"][-1] > 0 and logs["penalty"][-1] > 0
    for values in seen:
        assert values["penalty"] > 0  # the sum of the terms
    # Its state moved with each finite step, and is logged.
    assert float(consistency.steps) == 16.0
    assert logs["consistency_steps"] == [8.0, 16.0]
    # The decay set the trick's noise too (it is instance noise).
    assert float(gan.tricks[0].stddev) == pytest.approx(0.0)
    assert logs["noise_stddev"][-1] == pytest.approx(
        kgt.tricks.InstanceNoiseDecay(0.1, 0.0, 8).value(15)
    )
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    own = [t for t in loaded.tricks if isinstance(t, ShiftConsistency)]
    assert len(own) == 1 and own[0].weight == 5.0 and float(own[0].steps) == 16.0
    np.testing.assert_array_equal(loaded.generate(8, seed=1), gan.generate(8, seed=1))
    loaded.fit(two_clusters(64), batch_size=32, verbose=0)
    assert float(own[0].steps) == 18.0


def test_a_trick_changes_the_loss_it_claims_to():
    """The consistency term is D's loss minus the game's: computed by hand."""
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(tricks=[ShiftConsistency(weight=3.0, shift=0.5)])
    real = keras.ops.convert_to_tensor(two_clusters(32))
    loss, aux = gan.discriminator_objective(real, training=False)
    d = gan.discriminator
    logits = keras.ops.convert_to_numpy(d(real))
    shifted = keras.ops.convert_to_numpy(d(real + 0.5))
    expected = 3.0 * np.mean((shifted - logits) ** 2)
    term = float(keras.ops.convert_to_numpy(aux["terms"]["consistency"]))
    assert term == pytest.approx(expected, rel=1e-5)
    game = float(keras.ops.convert_to_numpy(aux["game_loss"]))
    assert float(keras.ops.convert_to_numpy(loss)) == pytest.approx(game + term)


def test_hooks_run_in_order_on_every_discriminator_input():
    """Input hooks see every batch D sees (real and fake, D and G pass), in
    the order of `tricks`; the generator-logits hook sees G's logits."""

    class Scale(kgt.tricks.Trick):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor
            self.calls = self.add_weight(
                shape=(), initializer="zeros", trainable=False, name="calls"
            )

        def discriminator_input(self, samples, training):
            self.calls.assign(self.calls + 1.0)
            return samples * self.factor

    class Identity(keras.layers.Layer):
        def call(self, x):
            return x

    class TakeHalf(kgt.tricks.Trick):
        def generator_logits(self, fake_logits):
            return fake_logits[: keras.ops.shape(fake_logits)[0] // 2]

    d = keras.Sequential([keras.Input((2,)), Identity(), keras.layers.Dense(1)])
    gan = kgt.GAN(mlp_generator(), d, seed=0)
    first, second = Scale(2.0), Scale(-3.0)
    gan.compile(tricks=[first, second, TakeHalf()], d_batch="separate", d_steps=2)
    assert [t for t in gan.tricks] == [first, second, gan.tricks[2]]
    gan.fit(two_clusters(64), batch_size=32, verbose=0)
    # Two steps, each: 2 D updates x (real + fake) + 1 G pass = 5 calls.
    assert float(first.calls) == float(second.calls) == 10.0
    x = keras.ops.convert_to_tensor(np.ones((1, 2), "float32"))
    _, aux = gan.discriminator_objective(x, training=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(aux["real_logits"]),
        keras.ops.convert_to_numpy(d(x * 2.0 * -3.0)),
        rtol=1e-6,
    )
    loss, aux = gan.generator_objective(8, training=False)
    assert keras.ops.shape(aux["fake_logits"])[0] == 4


def test_a_recompiled_gan_saves_and_loads_its_current_tricks(tmp_path):
    """Keras keeps every layer once assigned; the tricks of an earlier
    `compile` must not take the place of the current ones in the file."""
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(tricks=[kgt.layers.InstanceNoise(0.3), ShiftConsistency(2.0)])
    gan.fit(two_clusters(64), batch_size=32, verbose=0)
    current = ShiftConsistency(7.0)
    gan.compile(tricks=[kgt.layers.InstanceNoise(0.05), current])
    gan.fit(two_clusters(32), batch_size=32, verbose=0)
    assert float(current.steps) == 1.0
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    noise, own = loaded.tricks
    assert float(noise.stddev) == pytest.approx(0.05)
    assert own.weight == 7.0 and float(own.steps) == 1.0


def test_a_loss_term_must_be_declared():
    class Undeclared(kgt.tricks.Trick):
        def discriminator_loss(self, context):
            return {"extra": keras.ops.mean(context.real_logits)}

    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(tricks=[Undeclared(name="undeclared")])
    with pytest.raises(ValueError, match="'undeclared' returned a loss term 'extra'"):
        gan.fit(two_clusters(32), batch_size=32, verbose=0)


def test_the_fakes_hook_chooses_what_d_trains_on():
    """`discriminator_fakes` replaces the fakes of the D update (a replay
    buffer's place); G's pass still sees fresh ones."""

    class Fixed(kgt.tricks.Trick):
        def discriminator_fakes(self, fake, training):
            return keras.ops.zeros_like(fake) + 5.0

    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(tricks=[Fixed()])
    real = keras.ops.convert_to_tensor(two_clusters(8))
    _, aux = gan.discriminator_objective(real, training=True)
    expected = gan.discriminator(keras.ops.convert_to_tensor(np.full((8, 2), 5.0)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(aux["fake_logits"]),
        keras.ops.convert_to_numpy(expected),
        rtol=1e-6,
    )
    _, g_aux = gan.generator_objective(8, training=True)
    assert not np.allclose(
        keras.ops.convert_to_numpy(g_aux["fake_logits"]),
        keras.ops.convert_to_numpy(expected),
    )


def test_compiled_decay_sets_the_noise_of_every_noise_trick():
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), instance_noise=0.4, seed=0)
    noise = kgt.layers.InstanceNoise(0.4)
    decay = kgt.tricks.InstanceNoiseDecay(0.4, 0.0, 4)
    gan.compile(tricks=[noise, decay])
    assert decay.targets == (gan.instance_noise, noise)
    history = gan.fit(two_clusters(64), batch_size=16, epochs=2, verbose=0)
    assert history.history["noise_stddev"] == pytest.approx([0.1, 0.0])
    assert float(noise.stddev) == float(gan.instance_noise.stddev) == 0.0
    # Without noise, the GAN's own is added; beside adaptive noise alone,
    # there is nothing to decay.
    plain = kgt.GAN(mlp_generator(), mlp_discriminator())
    plain.compile(tricks=[kgt.tricks.InstanceNoiseDecay(0.4, 0.0, 4)])
    assert float(plain.instance_noise.stddev) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="no noise to decay.*AdaptiveInstanceNoise"):
        kgt.GAN(mlp_generator(), mlp_discriminator()).compile(
            tricks=[
                kgt.layers.AdaptiveInstanceNoise(),
                kgt.tricks.InstanceNoiseDecay(0.4, 0.0, 4),
            ]
        )


def test_changing_the_tricks_retraces_only_then():
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), instance_noise=0.2, seed=0)
    gan.compile()
    decay = kgt.callbacks.InstanceNoiseDecay(0.2, 0.0, 100)
    data = two_clusters(64)
    gan.fit(data, batch_size=32, verbose=0, callbacks=[decay])
    step = gan.train_function
    gan.fit(data, batch_size=32, verbose=0, callbacks=[decay])
    assert gan.train_function is step
    del step
    gan.fit(data, batch_size=32, verbose=0)  # without the decay: a new step
    history = gan.fit(data, batch_size=32, verbose=0)
    assert "noise_stddev" not in history.history


def _imports(path):
    """The package modules `path` imports (anywhere in it), as dotted names."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from package import module` imports the module; names that
            # are no module come from `node.module` itself.
            named = {f"{node.module}.{a.name}" for a in node.names}
            modules = {name for name in named if _path_of(name)}
            found.update(modules)
            if len(modules) < len(named):
                found.add(node.module)
    modules = {
        name
        for name in found
        if name.startswith("keras_gan_tricks") and os.path.exists(_path_of(name) or "")
    }
    return modules


def _path_of(name):
    parts = name.split(".")
    base = os.path.join(ROOT, *parts)
    if os.path.isdir(base):
        return os.path.join(base, "__init__.py")
    if os.path.exists(base + ".py"):
        return base + ".py"
    return None


def _package_graph():
    graph = {}
    for folder, _, files in os.walk(PACKAGE):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                rel = os.path.relpath(path, ROOT)[: -len(".py")]
                name = rel.replace(os.sep, ".").removesuffix(".__init__")
                graph[name] = _imports(path) - {name}
    return graph


# The step's glue (`_backend`: run_step, minimize, sync_state) is the step's
# alone. Two per-backend primitives (`_backend.primitives`) serve components
# used on their own as well: the instance-noise layer (its draws differ
# between tf.distribute replicas, inside a replicated D too) and the
# penalties (their input gradient when a user evaluates one in their own
# train_step) and the saving of random streams (a layer's attributes, which
# PyTorch keeps apart), besides the step.
STEP = {"keras_gan_tricks.gan", "keras_gan_tricks._objective"}
GLUE_USERS = {
    "keras_gan_tricks._backend": STEP,
    "keras_gan_tricks._backend.primitives": STEP
    | {
        "keras_gan_tricks.tricks.noise",
        "keras_gan_tricks.penalties",
        "keras_gan_tricks._sampling",
    },
}


def find_circle(graph):
    """An import circle in `{module: modules it imports}`, or None. A
    package's import of its own modules (`__init__` re-exporting) is no edge
    of a circle."""
    edges = {
        name: {d for d in deps if d in graph and not name.startswith(d + ".")}
        for name, deps in graph.items()
    }
    state, path = {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for dep in sorted(edges[node]):
            if state.get(dep) == "open":
                return path[path.index(dep) :] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_imports_have_no_circle_and_keep_the_glue_inside():
    graph = _package_graph()
    assert "keras_gan_tricks.tricks" in graph["keras_gan_tricks.gan"]
    assert "keras_gan_tricks.gan" in graph["keras_gan_tricks.callbacks.faces"]
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle)
    for name, deps in graph.items():
        if name.startswith("keras_gan_tricks._backend"):
            continue
        glue = {d for d in deps if d.startswith("keras_gan_tricks._backend")}
        for module in glue:
            # The dispatcher or the primitives, never one backend's module.
            assert module in GLUE_USERS, f"{name} imports {module}"
            assert name in GLUE_USERS[module], f"{name} imports {module}"


def test_the_import_walk_sees_function_level_imports(tmp_path):
    """The walk is not blind to the imports 0.1.0 hid in functions."""
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from keras_gan_tricks.gan import GAN\n"
        "    from keras_gan_tricks import _backend\n"
    )
    assert {"keras_gan_tricks.gan", "keras_gan_tricks._backend"} <= _imports(
        os.fspath(module)
    )
    circle = find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()})
    assert circle == ["a", "b", "c", "a"]
    assert find_circle({"p": {"p.x"}, "p.x": {"p"}}) is None
