"""Imported by an engine process as it starts (``EnginePool(warm=...)``): a start-up that takes 2 s, as
spawning and importing the engine can on a busy machine."""

import time

time.sleep(2.0)
