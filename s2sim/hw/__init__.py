"""s2sim/hw: the simulated SpiNNaker2 chip on SimPy (see docs/chip.md).

    from s2sim.hw import Chip, Program, price

Firmware touches only ``Program`` and the ``PE`` facade (runtime.py); the event loop behind
them is event_loop.py.
"""

from s2sim.hw.chip import Chip, ChipRun
from s2sim.hw.dvfs import cycles_to_ps
from s2sim.hw.energy import COMPONENTS, EnergyReport, price
from s2sim.hw.ledger import Counts
from s2sim.hw.router import RoutingTable
from s2sim.hw.runtime import PE, Program
from s2sim.hw.sram import SramAllocator

__all__ = ["COMPONENTS", "PE", "Chip", "ChipRun", "Counts", "EnergyReport", "Program",
           "RoutingTable", "SramAllocator", "cycles_to_ps", "price"]
