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

from _common import parse_args, per_step_ms, round_ratios, write_json
from speed_contenders import (
    data_for,
    make_bare,
    make_classic,
    make_handwritten_all,
    make_kgt,
    make_kgt_ablated,
    matmul_rate,
    rss_recorder,
    step_flops,
)


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
