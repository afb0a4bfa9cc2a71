"""A real Mosquitto on 127.0.0.1 for the MQTT tests: a plain listener and a TLS one whose test CA
and server certificate are made with openssl in a temporary folder (never committed); the
mosquitto_pub/mosquitto_sub clients as the independent peer; MicroPython scripts run in the
unix firmware as the client under test. The fixtures built on these (broker, own_broker,
mqtt_certs, upy_script) are in tests/conftest.py; bench/mqtt.py uses them too."""

import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FIRMWARE, free_port, sanitizer_report


def make_certs(folder):
    """A test CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key) paths."""
    folder = Path(folder)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr = folder / "server.pem", folder / "server.key", folder / "server.csr"
    ext = folder / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    for args in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Kiln test CA",
         "-keyout", ca_key, "-out", ca],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", csr],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "1",
         "-extfile", ext, "-out", cert],
    ):
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
    return ca, cert, key


class Broker:
    """One mosquitto process; stop() and start() again keep its ports (an outage)."""

    def __init__(self, folder, certs, persistent=False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca = certs[0]
        self.port, self.tls_port = free_port(), free_port()
        self.log_path = self.folder / "mosquitto.log"
        self.conf = self.folder / "mosquitto.conf"
        # "user root": as root, mosquitto would switch to its own user, who cannot read the
        # temporary key. axtls speaks TLS 1.2 with plain-RSA key exchange, which "DEFAULT" keeps.
        self.conf.write_text(
            "per_listener_settings false\nallow_anonymous true\nuser root\n"
            "persistence %s\npersistence_location %s/\n"
            "log_dest file %s\nlog_type all\nconnection_messages true\n"
            "listener %d 127.0.0.1\n"
            "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n"
            "tls_version tlsv1.2\nciphers DEFAULT\n"
            % ("true" if persistent else "false", self.folder, self.log_path, self.port,
               self.tls_port, certs[0], certs[1], certs[2])
        )
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited:\n" + self.log())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen:\n" + self.log())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def pub(self, topic, message, qos=0, retain=False):
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic, "-m", message,
                "-q", str(qos)]
        subprocess.run(args + (["-r"] if retain else []), check=True, timeout=10)

    def sub(self, topic, count, timeout=20, qos=1, client_id=None, clean=True, out=subprocess.PIPE):
        """Start mosquitto_sub printing `topic payload` lines (to the file `out` if given);
        it ends once `count` messages arrived or after `timeout` s. Returns once its
        subscription is in place."""
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic, "-v",
                "-C", str(count), "-W", str(timeout), "-q", str(qos)]
        if client_id:
            args += ["-i", client_id]
        if not clean:
            args += ["-c"]
        before = self.log().count("SUBSCRIBE")
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while self.log().count("SUBSCRIBE") == before and time.monotonic() < deadline:
            time.sleep(0.05)
        return proc


class Upy:
    """A MicroPython script running in the unix firmware; its output goes to a file."""

    def __init__(self, folder, name, code):
        self.script = Path(folder) / (name + ".py")
        self.script.write_text(code)
        self.out_path = Path(folder) / (name + ".out")
        self._out = open(self.out_path, "w")
        self.proc = subprocess.Popen([str(FIRMWARE), str(self.script)], cwd=folder, stdout=self._out,
                                     stderr=subprocess.STDOUT)

    def output(self):
        self._out.flush()
        return self.out_path.read_text(errors="replace")

    def wait_for(self, text, timeout=20):
        """Wait until the script printed `text`; returns the output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.output()
            if text in out:
                return out
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("%r not printed within %ss:\n%s" % (text, timeout, self.output()))

    def finish(self, timeout=30):
        """Wait for the script to end; returns its output (fails on a sanitizer report)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("the script did not end:\n" + self.output()) from None
        out = self.output()
        report = sanitizer_report(out)
        if report:
            pytest.fail("the sanitizer reported an error:\n" + report, pytrace=False)
        return out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
