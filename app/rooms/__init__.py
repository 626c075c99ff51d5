"""Live workshop rooms: the teacher's state fanned out to every participant, and the room's answers.

models.py (codes, secrets, caps, text, the tally), hub.py (in-process fan-out), store.py (memory or Redis),
sse.py (the event-stream response), qr.py (the join QR code), service.py (all of it together). The HTTP
routes are app/api/rooms.py; the design and the API are in docs/rooms.md.
"""

from app.rooms.models import RoomError, RoomLimits
from app.rooms.service import Rooms

__all__ = ["RoomError", "RoomLimits", "Rooms"]
