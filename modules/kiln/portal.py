# Set-up mode: the board opens its own access point, answers every DNS name with its own address
# (kiln.dns) and serves a set-up page: the networks it sees, SSID, password and hostname, with
# CSRF. The probes phones and laptops send when they join a network get a redirect to that page
# instead of the answer they expect, which is how the OS knows to pop it up:
#   Android/Chrome  /generate_204, /gen_204           expect 204, empty
#   Apple           /hotspot-detect.html,             expect 200 "<HTML>...Success...</HTML>"
#                   /library/test/success.html
#   Windows         /connecttest.txt, /ncsi.txt       expect 200 "Microsoft Connect Test" / "Microsoft NCSI"
#                   /redirect                         (opened in the browser after a failed check)
#   Firefox         /canonical.html, /success.txt     expect 200, a known page / "success\n"
# and so does any other URL on any other host. Saving joins the network (the access point stays
# up meanwhile); once joined, the credentials are saved (kiln.net.save: atomic), the page shows
# the board's new address, and after ``linger`` seconds the access point closes and ``run``
# returns the station interface.
import binascii

from kiln import App, Response, net, redirect
from kiln.csrf import CSRF

#: Where the portal listens (HTTP on ``run``'s port) and answers DNS.
host = "0.0.0.0"
dns_port = 53
#: Seconds the set-up network stays up after a successful join (the phone gets its page).
linger = 10
#: Seconds to wait for the chosen network to give an address.
join_timeout = 15

PROBES = ("/generate_204", "/gen_204", "/hotspot-detect.html", "/library/test/success.html",
          "/connecttest.txt", "/ncsi.txt", "/redirect", "/canonical.html", "/success.txt")

_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>%s set-up</title>
<style>body{font:16px sans-serif;margin:1em auto;max-width:24em;padding:0 1em}
input,button{display:block;width:100%%;margin:.3em 0 1em;padding:.5em;box-sizing:border-box}.e{color:#b00}</style>
</head><body><h1>%s</h1>%s</body></html>"""

_FORM = """%s<form method="post" action="/save">
<input type="hidden" name="csrf_token" value="%s">
<label>Network<input name="ssid" list="seen" required maxlength="32" value="%s"></label>
<datalist id="seen">%s</datalist>
<label>Password<input name="password" type="password" maxlength="64"></label>
<label>Name on the network<input name="hostname" maxlength="63" value="%s" pattern="[a-z0-9-]+"></label>
<button>Join</button></form>"""


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def ap_name():
    """The access point's name: "Kiln-" and the last 3 bytes of the board's id, in hex."""
    import machine

    return "Kiln-" + binascii.hexlify(machine.unique_id()[-3:]).decode().upper()


def valid_hostname(name):
    if not 0 < len(name) <= 63 or name[0] == "-" or name[-1] == "-":
        return False
    for c in name:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "-"):
            return False
    return True


def _html(body, status=200):
    return Response(body, status, {"Content-Type": "text/html; charset=UTF-8", "Cache-Control": "no-store"})


class Portal:
    """The set-up app (``self.app``) for an access point at ``ip``, joining through ``sta``."""

    def __init__(self, ip, sta, name="Kiln"):
        self.ip = ip
        self.sta = sta
        self.name = name
        self.joined = None
        self.done = None
        self.port = 80
        app = self.app = App()
        self.csrf = CSRF(app)
        home = "http://%s/" % ip

        @app.before_request
        def other_hosts(request):
            # A page asked for under another name (the DNS answer sent it here) moves to the
            # board's own address, where the form's cookie belongs.
            hostname = request.headers.get("Host", "").split(":")[0]
            if hostname != ip and request.method in ("GET", "HEAD"):
                return redirect(home)
            return None

        @app.get("/")
        def index(request):
            return self.form(request, "")

        @app.post("/save")
        def save(request):
            form = request.form
            ssid = form.get("ssid", "").strip()
            password = form.get("password", "")
            hostname = form.get("hostname", "").strip().lower()
            if not 0 < len(ssid.encode()) <= 32:
                return self.form(request, "Choose a network.", 400)
            if password and not 8 <= len(password) <= 64:
                return self.form(request, "A WiFi password has 8 to 64 characters.", 400)
            if hostname and not valid_hostname(hostname):
                return self.form(request, "A name has letters, digits and hyphens.", 400, ssid)
            cfg = {"ssid": ssid, "password": password, "hostname": hostname}
            sta = net.connect(cfg, tries=1, timeout=join_timeout)
            if sta is None:
                return self.form(request, "Could not join %s: check the password." % escape(ssid), 200, ssid)
            net.save(ssid, password, hostname)
            self.joined = sta
            urls = net.addresses(sta.ifconfig()[0], hostname, self.port)
            links = "".join('<p><a href="%s">%s</a></p>' % (u, u) for u in urls)
            import asyncio

            asyncio.create_task(self._leave())
            return _html(_PAGE % (escape(self.name), "Joined " + escape(ssid),
                                  "<p>The board is now at:</p>%s<p>Join %s again and open that address. "
                                  "This set-up network closes in %d s.</p>" % (links, escape(ssid), linger)))

        for path in PROBES:
            app.route(path, methods=["GET"], endpoint="probe" + path.replace("/", "_").replace(".", "_"))(
                lambda request: redirect(home))

        @app.errorhandler(404)
        def elsewhere(request):
            return redirect(home)

    def networks(self):
        try:
            found = self.sta.scan()
        except OSError:
            return []
        names = []
        for entry in sorted(found, key=lambda e: -e[3]):  # strongest first
            try:
                name = entry[0].decode()
            except UnicodeError:
                continue
            if name and name not in names:
                names.append(name)
        return names

    def form(self, request, error, status=200, ssid=""):
        options = "".join('<option value="%s">' % escape(n) for n in self.networks())
        hostname = request.form.get("hostname", "") if request.method == "POST" else ""
        body = _FORM % ('<p class="e">%s</p>' % error if error else "", self.csrf.token(request), escape(ssid),
                        options, escape(hostname if valid_hostname(hostname) else ""))
        return _html(_PAGE % (escape(self.name), escape(self.name) + " set-up", body), status)

    async def _leave(self):
        import asyncio

        await asyncio.sleep(linger)
        self.done.set()

    async def serve(self, port):
        import asyncio

        from kiln.dns import DNSServer

        self.done = asyncio.Event()
        self.port = port
        dns = DNSServer(self.ip, host, dns_port)
        task = asyncio.create_task(dns.serve())
        server = await self.app.start_server(host=host, port=port)
        print("Kiln: set-up network %s, open http://%s/" % (self.name, self.ip))
        await self.done.wait()
        server.close()
        await server.wait_closed()
        task.cancel()
        dns.close()


def run(port=80, password=None):
    """Open the access point (WPA2 with ``password``, else open), serve the set-up page until a
    network is joined; close the access point and return the station interface."""
    import asyncio

    import network

    name = ap_name()
    ap = network.WLAN(network.AP_IF)
    ap.active(True)
    if password:
        ap.config(essid=name, password=password, authmode=getattr(network, "AUTH_WPA2_PSK", 3))
    else:
        ap.config(essid=name, authmode=getattr(network, "AUTH_OPEN", 0))
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    portal = Portal(ap.ifconfig()[0], sta, name)
    asyncio.run(portal.serve(port))
    ap.active(False)
    return portal.joined
