"""Interleaved timing of several variants of one job in one process.

Every round calls each variant once, in an order shuffled anew each round
by a generator with a fixed seed. Slow drift of the machine (frequency, the
other core's load) then spreads over all variants instead of landing on
whichever ran last. The shuffle also gives each variant different
predecessors, whose memory state (freed buffers, cache contents) would
otherwise favour or penalise it in every round.

A sample is the mean of `number` back-to-back calls, with `number` chosen
so that one sample lasts at least `min_sample_s`. That keeps timer
resolution and loop overhead out of microsecond-sized calls. The reported
figure is the median of the samples.
"""

import gc
import math
import random
import statistics
import time
from dataclasses import dataclass, field

# A call this slow is timed twice, not three times, to estimate its cost.
SLOW_CALL_S = 0.25

# Seed of the order of the variants in each round, so that every run uses the same orders.
ORDER_SEED = 0


@dataclass
class TimingPlan:
    """How long to sample one case."""

    min_sample_s: float  # shortest acceptable sample; short calls are repeated to reach it
    case_budget_s: float  # time the rounds of one case should take in all
    min_rounds: int
    max_rounds: int


@dataclass
class Samples:
    """Per-call times in seconds of one variant, one value per round."""

    number: int  # calls per sample
    seconds_per_call: list = field(default_factory=list)

    @property
    def median(self):
        return statistics.median(self.seconds_per_call)

    @property
    def relative_iqr(self):
        """Interquartile range divided by the median: a measure of noise."""
        if len(self.seconds_per_call) < 4:
            return math.nan
        quartiles = statistics.quantiles(self.seconds_per_call, n=4)
        return (quartiles[2] - quartiles[0]) / self.median


def _time_calls(function, number):
    """Return the mean time of `number` calls of `function`, with the garbage collector off."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            function()
        elapsed = time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return elapsed / number


def calibrate(function, plan):
    """Return (calls per sample, estimated seconds per call) for `function`.

    The function must already have been called once, so that compilation and
    first-call caches are not part of the estimate. The estimate is the
    fastest of three calls, or of two when the first already takes longer
    than `SLOW_CALL_S`.
    """
    single = min(_time_calls(function, 1), _time_calls(function, 1))
    if single < SLOW_CALL_S:
        single = min(single, _time_calls(function, 1))
    number = max(1, math.ceil(plan.min_sample_s / max(single, 1e-9)))
    if number > 1:
        single = _time_calls(function, number)
        number = max(1, math.ceil(plan.min_sample_s / max(single, 1e-9)))
    return number, single


def time_interleaved(functions, calibration, plan):
    """Time every function in `functions` (a dict name -> callable) in interleaved rounds.

    `calibration` maps each name to the (calls per sample, seconds per call)
    that `calibrate` returned. Returns a dict name -> Samples, and the number
    of rounds run.
    """
    names = list(functions)
    samples = {name: Samples(calibration[name][0]) for name in names}
    round_cost = sum(number * single for number, single in (calibration[name] for name in names))
    rounds = int(plan.case_budget_s / max(round_cost, 1e-9))
    rounds = min(plan.max_rounds, max(plan.min_rounds, rounds))

    order = list(names)
    shuffler = random.Random(ORDER_SEED)
    for _ in range(rounds):
        shuffler.shuffle(order)
        for name in order:
            entry = samples[name]
            entry.seconds_per_call.append(_time_calls(functions[name], entry.number))
    return samples, rounds
