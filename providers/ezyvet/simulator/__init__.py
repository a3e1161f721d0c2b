"""A stand-in for ezyVet's REST API: a real aiohttp app with seeded records and fault knobs.

``EzyVetSimulator`` runs it in a background thread; ``Dataset`` is its seeded, editable data.
"""

from providers.ezyvet.simulator.data import Dataset
from providers.ezyvet.simulator.faults import ENDPOINTS, FaultError
from providers.ezyvet.simulator.scenarios import SCENARIOS
from providers.ezyvet.simulator.server import EzyVetSimulator

__all__ = ["ENDPOINTS", "SCENARIOS", "Dataset", "EzyVetSimulator", "FaultError"]
