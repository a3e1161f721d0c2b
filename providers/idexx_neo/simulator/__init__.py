"""A faithful stand-in for IDEXX Neo: a real web app that a real browser logs into.

``SimulatorServer`` runs it in a background thread; ``Dataset`` is its seeded, editable data.
"""

from providers.idexx_neo.simulator.app import SECOND_FACTOR_CODE, SESSION_COOKIE
from providers.idexx_neo.simulator.data import Dataset
from providers.idexx_neo.simulator.faults import ENDPOINTS, FaultError
from providers.idexx_neo.simulator.scenarios import SCENARIOS
from providers.idexx_neo.simulator.server import SimulatorServer

__all__ = [
    "ENDPOINTS",
    "SCENARIOS",
    "SECOND_FACTOR_CODE",
    "SESSION_COOKIE",
    "Dataset",
    "FaultError",
    "SimulatorServer",
]
