"""The in-step trick protocol: small objects that act inside `kgt.GAN`'s step.

A trick is a `keras.layers.Layer` that implements only the hooks it needs;
`GAN.compile(tricks=[...])` runs them in the order given, like
`optax.chain`. Each hook is written in `keras.ops`, so one trick runs
unchanged on TensorFlow, JAX and PyTorch, inside the compiled step:

| hook | called | for |
|---|---|---|
| `start_step(step)` | before the step's updates | schedules (noise decay) |
| `discriminator_input(samples, training)` | on every batch D sees, real and fake, in both passes | instance noise, augmentation |
| `discriminator_fakes(fake, training)` | on the fakes of each D update | replay buffer |
| `discriminator_loss(context)` | after D's base loss, in each D update | penalties, LeCam, consistency |
| `generator_logits(fake_logits)` | before G's loss | top-k |
| `end_step(outcome)` | after the step, finite or not | EMA, controllers |
| `logs()` | after `end_step` | values for the progress bar |
| `alarm(step, logs)` | every few steps (host side) | a controller at its bound: an `Alarm` |
| `setup(gan)` | when the GAN takes the trick (host side) | state that needs the GAN |
| `fit_begin(gan, steps)` | when `fit` starts, after the callbacks' `on_train_begin` (host side) | plans over the fit's length |
| `fit_end(gan)` | when `fit` ends (host side) | work on the trained model |

A trick owns its variables (`add_weight`): they are saved in `.keras` files
and by `keras.callbacks.BackupAndRestore`, and carried in JAX's train state.
Its config (`get_config`) makes it serialisable; register a class of your
own with `keras.saving.register_keras_serializable`.

| trick | does |
|---|---|
| `InstanceNoiseDecay` | sets every `kgt.layers.InstanceNoise` stddev from a schedule of the step |
| `GeneratorEMA` | keeps a moving average of the generator's weights |
| `DiscriminatorLRBalancer` | lowers D's learning rate while D runs ahead (its ranking accuracy), and settles |
| `PenaltyTerm` | adds a `kgt.penalties` penalty to D's loss (lazily, if asked) |
| `LeCam` | holds D's outputs near moving anchors (also `kgt.penalties.LeCam`) |
| `InstanceNoise`, `AdaptiveInstanceNoise` | noise on D's inputs, fixed or following D's lead (also in `kgt.layers`) |
| `TopK` | G learns from the fakes D rates highest (Sinha et al. 2020) |
| `ReplayBuffer` | D sees past fakes among the new (TF-GAN's tensor pool) |

One module per family: `base` (the protocol), `alarms` (what a controller
at its bound says), `signals` (D's signals and
the feedback loop they drive), `noise`, `average`, `fakes` (top-k, replay),
`terms` (penalties and LeCam), `balancer` (its Keras plumbing) and
`balancer_rule` (its rule, pure functions), `guard` (non-finite steps),
`chain` (the tricks of a step, their hooks applied in turn);
augmentations are in `kgt.augment`. `AdaptiveInstanceNoise`,
`kgt.augment.AdaptiveAugment` and the balancer are feedback loops on the
same signals (`ranking_accuracy`, `sign_of_real`, `feedback_window`,
`adaptive_step`). `kgt.callbacks.InstanceNoiseDecay`, `GeneratorEMA` and
`DiscriminatorLRBalancer` are callback faces of the tricks here.
"""

from keras_gan_tricks.tricks.alarms import Alarm, TrainingAlarm
from keras_gan_tricks.tricks.average import (
    EMA_GENERATOR,
    GeneratorEMA,
    clone_generator,
    update_average,
)
from keras_gan_tricks.tricks.balancer import (
    BALANCER_CHANGES,
    BALANCER_CONTROL,
    BALANCER_STATE,
    DiscriminatorLRBalancer,
    ScaledSchedule,
)
from keras_gan_tricks.tricks.base import (
    HOOKS,
    DiscriminatorContext,
    Refs,
    StepOutcome,
    Trick,
    TrickCallback,
    chain_hooks,
)
from keras_gan_tricks.tricks.chain import TrickChain
from keras_gan_tricks.tricks.fakes import ReplayBuffer, TopK
from keras_gan_tricks.tricks.guard import NonFiniteGuard
from keras_gan_tricks.tricks.noise import (
    DECAY_KINDS,
    AdaptiveInstanceNoise,
    InstanceNoise,
    InstanceNoiseDecay,
    instance_noise_in,
    noise_schedule,
)
from keras_gan_tricks.tricks.signals import (
    SIGNALS,
    adapt_knob,
    adaptive_step,
    check_signal,
    discriminator_signal,
    feedback_window,
    ranking_accuracy,
    sign_of_real,
)
from keras_gan_tricks.tricks.terms import LeCam, PenaltyTerm

__all__ = [
    "BALANCER_CHANGES",
    "BALANCER_CONTROL",
    "BALANCER_STATE",
    "DECAY_KINDS",
    "EMA_GENERATOR",
    "HOOKS",
    "SIGNALS",
    "AdaptiveInstanceNoise",
    "Alarm",
    "DiscriminatorContext",
    "DiscriminatorLRBalancer",
    "GeneratorEMA",
    "InstanceNoise",
    "InstanceNoiseDecay",
    "LeCam",
    "NonFiniteGuard",
    "PenaltyTerm",
    "Refs",
    "ReplayBuffer",
    "ScaledSchedule",
    "StepOutcome",
    "TopK",
    "TrainingAlarm",
    "Trick",
    "TrickCallback",
    "TrickChain",
    "adapt_knob",
    "adaptive_step",
    "chain_hooks",
    "check_signal",
    "clone_generator",
    "discriminator_signal",
    "feedback_window",
    "instance_noise_in",
    "noise_schedule",
    "ranking_accuracy",
    "sign_of_real",
    "update_average",
]
