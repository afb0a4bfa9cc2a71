# The hello page through the framework with max_connections from the command line
# (bench/scale.py: 1,000 keep-alive connections, each with a slot of its own).
import sys

from kiln import App

app = App()


@app.get("/")
def index(request):
    return "Hello, world!"


app.run(host="127.0.0.1", port=int(sys.argv[1]), max_connections=int(sys.argv[2]))
