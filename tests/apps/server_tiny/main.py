# The hello app without the framework (kiln imports App and the rest only when asked for), so
# this measures what the socket loop itself needs.
from kiln import server

HELLO = (200, [("Content-Type", "text/plain")], b"Hello, World!")


def hello(req):
    return HELLO


class App:
    def run(self, host="0.0.0.0", port=8080, **config):
        server.run(hello, host, port, **config)


app = App()
