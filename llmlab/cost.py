"""What a model costs to train and to run: FLOPs, seconds, joules, grams of CO2, on one scale.

Training costs about ``6·N·D`` floating-point operations (:func:`llmlab.scaling.training_flops`:
``N`` parameters, ``D`` training tokens); producing one token costs about ``2·N`` (the forward pass
alone). So serving ``3·D`` tokens costs as much arithmetic as training did: for a model many
people use, the running soon outweighs the making.

Energy is measured where the machine lets us: Linux exposes Intel and AMD CPUs' RAPL counters
(``/sys/class/powercap``, the package's energy in microjoules). Where they cannot be read (other
systems, containers, no permission) :class:`EnergyMeter` falls back on the CPU time the process
used times a stated power per busy core, and says so: the printed assumption is part of the
number. Published figures for large runs (:data:`PUBLISHED`) are quoted with their source.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path

from llmlab import checks

#: Where Linux exposes RAPL package counters.
POWERCAP = Path("/sys/class/powercap")
#: The fallback's assumed power per fully busy core (a laptop core under load: roughly 5-15 W).
WATTS_PER_CORE = 10.0


def inference_flops(n_params: float, tokens: float) -> float:
    """``2 * n_params * tokens``: one multiply-add per parameter per generated token."""
    checks.number(n_params, "n_params", 1)
    checks.number(tokens, "tokens", 0)
    return 2.0 * n_params * tokens


@dataclass(frozen=True)
class Energy:
    """Joules used over a stretch of work, the seconds it took, and how the joules were found."""

    joules: float
    seconds: float
    source: str

    @property
    def kwh(self) -> float:
        return self.joules / 3.6e6


def _rapl_counters(root: Path = POWERCAP) -> list[Path]:
    """The readable package-level energy counters (``intel-rapl:N``, not their sub-zones)."""
    found = []
    for zone in sorted(root.glob("intel-rapl:*")):
        counter = zone / "energy_uj"
        if zone.name.count(":") == 1 and counter.exists():
            try:
                int(counter.read_text())
            except (OSError, ValueError):
                continue
            found.append(zone)
    return found


def _cpu_seconds() -> float:
    """CPU seconds used by this process and its finished children (all threads, user + system)."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class EnergyMeter:
    """``with EnergyMeter() as meter: ...`` then ``meter.energy``: what the block used.

    RAPL counts the whole CPU package (other programs too) and wraps around at its range; the
    fallback counts only this process's CPU time, at ``watts_per_core``.
    """

    def __init__(self, watts_per_core: float = WATTS_PER_CORE, root: Path = POWERCAP) -> None:
        self.watts_per_core = checks.number(watts_per_core, "watts_per_core", 0, low_open=True)
        self.zones = _rapl_counters(root)
        self.energy: Energy | None = None

    def _read(self) -> list[int]:
        return [int((z / "energy_uj").read_text()) for z in self.zones]

    def __enter__(self) -> EnergyMeter:
        self._start = (time.perf_counter(), _cpu_seconds(), self._read())
        return self

    def __exit__(self, *exc: object) -> None:
        wall, cpu, counters = self._start
        seconds = time.perf_counter() - wall
        if self.zones:
            joules = 0.0
            for zone, before, after in zip(self.zones, counters, self._read(), strict=True):
                wrap = int((zone / "max_energy_range_uj").read_text()) if after < before else 0
                joules += (after - before + wrap) / 1e6
            source = f"RAPL counters ({len(self.zones)} CPU package(s), whole package)"
        else:
            joules = (_cpu_seconds() - cpu) * self.watts_per_core
            source = (
                f"CPU time x {self.watts_per_core:g} W per busy core (assumed; no RAPL counter)"
            )
        self.energy = Energy(joules, seconds, source)


@dataclass(frozen=True)
class PublishedRun:
    """A large training run as its authors reported it."""

    name: str
    n_params: float
    tokens: float
    energy_kwh: float
    co2_tonnes: float
    source: str

    @property
    def flops(self) -> float:
        return 6.0 * self.n_params * self.tokens


#: Two runs with published energy and emissions. Llama 2 70B: 1,720,320 A100-80GB GPU-hours at
#: the GPUs' 400 W (GPUs only: no cooling, no CPUs).
PUBLISHED = (
    PublishedRun(
        "GPT-3 175B",
        175e9,
        300e9,
        1_287_000,
        552,
        "Patterson et al. 2021, Carbon Emissions and Large Neural Network Training, Table 4",
    ),
    PublishedRun(
        "Llama 2 70B",
        70e9,
        2.0e12,
        1_720_320 * 0.400,
        291.42,
        "Touvron et al. 2023, Llama 2, Table 2 (GPU power only)",
    ),
)


def grams_co2(kwh: float, grams_per_kwh: float) -> float:
    """Emissions of ``kwh`` of electricity on a grid emitting ``grams_per_kwh`` (varies 20-900)."""
    return checks.number(kwh, "kwh", 0) * checks.number(grams_per_kwh, "grams_per_kwh", 0)
