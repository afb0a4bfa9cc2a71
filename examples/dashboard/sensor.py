# The hardware: a DHT22 on a GPIO pin and a relay (or LED) on another. On a board they are
# dht.DHT22 and machine.Pin; where those modules do not exist (the unix firmware) a simulated
# sensor and relay with the same methods stand in, so the dashboard runs on a PC.
import math
import random
import time

try:
    import dht
    import machine
except ImportError:
    dht = machine = None

SIMULATED = dht is None


class SimulatedDHT22:
    """A stand-in for dht.DHT22: measure(), temperature() (degrees C), humidity() (%RH).
    The values drift slowly like a room's, with a little noise."""

    def __init__(self):
        self._t = 21.0
        self._h = 55.0
        self._start = time.time()

    def measure(self):
        minutes = (time.time() - self._start) / 60
        noise = (random.getrandbits(8) - 128) / 640  # -0.2 .. +0.2
        self._t = 21.0 + 3.0 * math.sin(minutes / 2) + noise
        self._h = 55.0 + 8.0 * math.cos(minutes / 3) - noise * 4

    def temperature(self):
        return self._t

    def humidity(self):
        return self._h


class SimulatedRelay:
    """A stand-in for an output machine.Pin: value() reads it, value(v) sets it."""

    def __init__(self):
        self._on = 0

    def value(self, v=None):
        if v is None:
            return self._on
        self._on = 1 if v else 0
        return None


def open_sensor(pin):
    """The DHT22 on GPIO ``pin``, or the simulation without ``dht``/``machine``."""
    return SimulatedDHT22() if SIMULATED else dht.DHT22(machine.Pin(pin))


def open_relay(pin):
    """The relay on GPIO ``pin`` (an output, off), or the simulation."""
    if SIMULATED:
        return SimulatedRelay()
    return machine.Pin(pin, machine.Pin.OUT, value=0)
