# The hello app without the framework: ./kiln/__init__.py stands in for the frozen package's
# (which imports the whole framework) and points at the frozen kiln/server.py, so this measures
# what the socket loop itself needs.
from kiln import server

HELLO = (200, [("Content-Type", "text/plain")], b"Hello, World!")


def hello(req):
    return HELLO


class App:
    def run(self, host="0.0.0.0", port=8080, **config):
        server.run(hello, host, port, **config)


app = App()
