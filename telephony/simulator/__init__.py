"""An AMI-speaking PBX simulator (demo and training mode; the PBX of every test and bench).

    from telephony.simulator import Simulator, PbxLayout
    sim = Simulator(layout=PbxLayout.demo(extensions=range(1001, 1007)), answer_delay=0.0, seed=1)
    sim.start(host="127.0.0.1", port=0); sim.port; sim.stop()

See docs/simulator.md.
"""

from __future__ import annotations

from telephony.simulator.layout import PbxLayout, QueueLayout
from telephony.simulator.pbx import SimError
from telephony.simulator.simulator import Simulator

__all__ = ["PbxLayout", "QueueLayout", "SimError", "Simulator"]
