# The last readings in a ring buffer of fixed size: small ints (tenths of a degree and of a
# percent), so keeping them allocates nothing after start-up.


class History:
    """The newest ``size`` readings: ``add(t, temperature, humidity)``, ``latest()``,
    ``readings()`` oldest first as (t, temperature, humidity) tuples."""

    def __init__(self, size=60):
        self.size = size
        self._t = [0] * size
        self._temp = [0] * size
        self._hum = [0] * size
        self._next = 0
        self.count = 0

    def add(self, t, temperature, humidity):
        i = self._next
        self._t[i] = int(t)
        self._temp[i] = round(temperature * 10)
        self._hum[i] = round(humidity * 10)
        self._next = (i + 1) % self.size
        if self.count < self.size:
            self.count += 1

    def _at(self, i):
        return self._t[i], self._temp[i] / 10, self._hum[i] / 10

    def latest(self):
        if not self.count:
            return None
        return self._at((self._next - 1) % self.size)

    def readings(self):
        start = (self._next - self.count) % self.size
        for k in range(self.count):
            yield self._at((start + k) % self.size)
