"""JAX glue: the GAN's stateful step run statelessly, with `jax.grad`.

Keras's JAX trainer calls `train_step(state, data)` with the value of every
model, optimizer and metric variable, and expects the updated values back.
`run_step` runs the GAN's step (written with ordinary, stateful Keras calls)
inside a `keras.StatelessScope` that maps each variable to its value in
`state`; every `assign` made during the step (optimizer slots, batch-norm
statistics, the seed generator, metrics, instance-noise stddev) is recorded
in the scope and read back into the new state, so nothing is dropped.

`minimize` differentiates with `jax.grad` with respect to the values of one
network's variables only, runs the forward pass in a nested scope so its
variable updates come out as auxiliary outputs (never as leaked tracers),
then runs the optimizer's `apply` in another nested scope over the whole
state (so learning-rate schedules may read any variable of the GAN) and
records what it changed.
"""

import warnings

import jax
import keras
from jax import numpy as jnp

from keras_gan_tricks._backend import step_is_finite


class _Frame:
    def __init__(self, variables, values):
        self.variables = variables
        self.scope = keras.StatelessScope(
            state_mapping=list(zip(variables, values, strict=True))
        )
        self.initial = dict(self.scope.state_mapping)

    def value(self, variable):
        return self.scope.get_current_value(variable)

    def updates(self):
        """The `(variable, new value)` pairs assigned inside the scope."""
        mapping = self.scope.state_mapping
        known = self.initial.keys()
        unknown = [key for key in mapping if key not in known]
        if unknown:
            raise RuntimeError(
                "A variable outside the GAN's train state was assigned during "
                "the step, so its update would be lost on the JAX backend. Keep "
                "every layer and optimizer the step uses as an attribute of the "
                "GAN (or attach it with `GAN.attach_trick_state`)."
            )
        return [
            (variable, mapping[id(variable)])
            for variable in self.variables
            if mapping[id(variable)] is not self.initial[id(variable)]
        ]


def _assign(updates):
    # Called with the parent frame's scope active: recorded there.
    for variable, value in updates:
        variable.assign(value)


class StepOps:
    """The differentiate-and-apply operations of one JAX step: the stack of
    stateless scopes it opened (innermost last) is its own, so nothing is
    kept between steps or shared between models."""

    def __init__(self, frame):
        self.frames = [frame]

    def in_scope(self, fn, overrides=()):
        """Calls `fn()` over the current state, with `overrides` (pairs of
        variable and value) replacing some values. Returns `fn`'s result and the
        updates it made, without applying them."""
        parent = self.frames[-1]
        replaced = {id(variable): value for variable, value in overrides}
        values = [
            replaced.get(id(variable), parent.value(variable))
            for variable in parent.variables
        ]
        frame = _Frame(parent.variables, values)
        self.frames.append(frame)
        try:
            with frame.scope:
                result = fn()
        finally:
            self.frames.pop()
        return result, frame.updates()

    def minimize(self, loss_fn, variables, optimizer, allow=None):
        frame = self.frames[-1]
        variables = list(variables)
        updated = []

        def scaled_loss(values):
            def forward():
                loss, aux = loss_fn()
                # A LossScaleOptimizer (mixed precision) scales; others return it.
                return optimizer.scale_loss(loss), loss, aux

            (scaled, loss, aux), updates = self.in_scope(
                forward, zip(variables, values, strict=True)
            )
            updated[:] = [variable for variable, _ in updates]
            return scaled, (loss, aux, [value for _, value in updates])

        values = [frame.value(variable) for variable in variables]
        gradients, (loss, aux, new_values) = jax.grad(scaled_loss, has_aux=True)(values)
        _assign(zip(updated, new_values, strict=True))
        finite = step_is_finite(loss, gradients, optimizer, allow)
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            self._apply_loss_scaled(optimizer, gradients, variables, finite)
            return loss, aux, finite
        _, updates = self.in_scope(lambda: optimizer.apply(gradients, variables))
        # A non-finite step keeps every value the optimizer would have changed.
        _assign(
            (variable, jnp.where(finite, value, frame.value(variable)))
            for variable, value in updates
        )
        return loss, aux, finite

    def _apply_loss_scaled(self, optimizer, gradients, variables, finite):
        """`LossScaleOptimizer.apply`, with selects where Keras uses `ops.cond`
        (whose branches assign variables, which a scope cannot record inside
        `jax.lax.cond`). Same rule: with finite gradients, apply the unscaled
        ones and double the scale after `dynamic_growth_steps` finite steps in a
        row; else skip and halve it. Nothing changes when the loss is not
        finite (the GAN stops there)."""
        frame = self.frames[-1]
        scale = frame.value(optimizer.dynamic_scale)
        counter = frame.value(optimizer.step_counter)
        grads_finite = optimizer.check_finite(gradients)
        unscaled = [None if g is None else g / scale.astype(g.dtype) for g in gradients]
        inner = optimizer.inner_optimizer
        _, updates = self.in_scope(lambda: inner.apply(unscaled, variables))
        apply = jnp.logical_and(finite, grads_finite)
        _assign(
            (variable, jnp.where(apply, value, frame.value(variable)))
            for variable, value in updates
        )
        grow = counter == optimizer.dynamic_growth_steps - 1
        new_counter = jnp.where(
            grads_finite, jnp.where(grow, 0, counter + 1), 0
        ).astype(counter.dtype)
        new_scale = jnp.where(
            grads_finite, jnp.where(grow, scale * 2.0, scale), scale * 0.5
        ).astype(scale.dtype)
        optimizer.step_counter.assign(jnp.where(finite, new_counter, counter))
        optimizer.dynamic_scale.assign(jnp.where(finite, new_scale, scale))

    def run_if(self, pred, fn, otherwise):
        """`jax.lax.cond` whose true branch may assign variables: each branch
        returns the values of every variable of the state (the true branch with
        `fn`'s updates), and those `fn` changed are assigned after the cond."""
        frame = self.frames[-1]
        variables = frame.variables
        current = [frame.value(variable) for variable in variables]
        changed = set()

        def run(_):
            result, updates = self.in_scope(fn)
            new = {id(variable): value for variable, value in updates}
            changed.update(new)
            return result, [
                new.get(id(v), c) for v, c in zip(variables, current, strict=True)
            ]

        def skip(_):
            return otherwise, current

        result, values = jax.lax.cond(pred, run, skip, None)
        _assign(
            (variable, value)
            for variable, value in zip(variables, values, strict=True)
            if id(variable) in changed
        )
        return result

    def input_gradient(self, fn, x):
        """`d sum(fn(x)) / dx`, keeping the variable updates `fn` makes."""
        updated = []

        def total(x):
            y, updates = self.in_scope(lambda: fn(x))
            updated[:] = [variable for variable, _ in updates]
            return jnp.sum(y.astype("float32")), [value for _, value in updates]

        gradient, new_values = jax.grad(total, has_aux=True)(x)
        _assign(zip(updated, new_values, strict=True))
        return gradient


def run_step(model, step, args, with_optimizer):
    """Runs `step(data)` as the JAX trainer's `train_step`/`test_step`."""
    state, data = args
    groups = [model.trainable_variables, model.non_trainable_variables]
    if with_optimizer:
        groups.append(model.optimizer.variables)
    groups.append(model.metrics_variables)
    if len(state) != len(groups) or any(
        len(values) != len(variables)
        for values, variables in zip(state, groups, strict=True)
    ):
        raise RuntimeError(
            "The JAX train state does not match the GAN's variables; was a "
            "layer or optimizer added after `fit` started? Recompile the GAN."
        )
    frame = _Frame(
        [v for variables in groups for v in variables],
        [x for values in state for x in values],
    )
    with frame.scope:
        logs = step(data, StepOps(frame))
    new_state = tuple([frame.value(v) for v in variables] for variables in groups)
    return logs, new_state


def input_gradient(fn, x):
    """Outside a GAN step (a penalty evaluated on its own): the variables
    hold their values; updates made by `fn` are dropped."""
    with keras.StatelessScope() as scope:
        gradient = jax.grad(lambda x: jnp.sum(fn(x).astype("float32")))(x)
    if scope.state_mapping:
        warnings.warn(
            "The discriminator updated its variables (batch-norm "
            "statistics or a seed) while a penalty was computed outside "
            "a GAN step; on JAX those updates are dropped.",
            stacklevel=3,
        )
    return gradient


def seed_generator(seed=None, name=None):
    return keras.random.SeedGenerator(seed, name=name)


def check_limits(gan, penalty, compile_kwargs):
    del gan, penalty, compile_kwargs


def attribute_values(layer):
    return list(vars(layer).values())


def sync_state(model):
    """During `fit` the variables' values live in Keras's train state; this
    puts them back (Keras does it when a callback reads `self.model`)."""
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()
