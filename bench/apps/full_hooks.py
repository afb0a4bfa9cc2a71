# What "hooks + sessions" means in every benchmark (kiln_app.py full, bench/framework.py): a
# before_request hook that writes request.g, an after_request hook, and signed-cookie sessions.
from kiln.session import Session


def add_hooks_and_sessions(app):
    Session(app, secret_key="bench-secret")

    @app.before_request
    def before(request):
        request.g.seen = True

    @app.after_request
    def after(request, response):
        return response
