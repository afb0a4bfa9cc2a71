#!/usr/bin/env python3
"""Boot an ESP8266 image in the emulated ESP8266 (QEMU's esp8266 machine with Espressif's boot
ROM, from ../shared/vendor/esp8266-qemu) and talk to its REPL on UART0.

    emulate.py --interactive firmware.bin     # the REPL on this terminal (Ctrl-] quits)
    emulate.py firmware.bin code.py           # run a file through the raw REPL, print its output

The emulated flash is 4 MB: the image is booted with its header's flash size set to 4 MB (as
`esptool write-flash --flash-size detect` does on a board), since a smaller size in the header
makes the SDK look for its RF calibration data in the wrong sector. There is no network model.
Used by `make emulate` and tests/test_esp8266_emulated.py."""

import argparse
import binascii
import os
import select
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENDOR = os.environ.get("KILN_VENDOR", os.path.join(ROOT, "..", "shared", "vendor"))
QEMU = os.environ.get("KILN_QEMU", os.path.join(ROOT, "build", "qemu", "qemu-system-xtensa"))
ESPTOOL = os.path.join(ROOT, ".venv", "bin", "esptool")
EMULATED_FLASH = "4MB"
PIECE, PACE = 32, 0.01


class EmulatorError(Exception):
    pass


class Emulator:
    """One emulated ESP8266 running `image`; `run(code)` executes code in its raw REPL."""

    def __init__(self, image, boot_timeout=15):
        self._dir = tempfile.TemporaryDirectory(prefix="kiln-emu-")
        flash = os.path.join(self._dir.name, "flash.bin")
        subprocess.run([ESPTOOL, "--chip", "esp8266", "merge-bin", "--flash-size", EMULATED_FLASH,
                        "-o", flash, "0x0", image], check=True, capture_output=True)
        self.boot_log = b""
        self._buf = b""
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [QEMU, "-M", "esp8266", "-L", os.path.join(VENDOR, "esp8266-qemu"), "-kernel", flash,
             "-display", "none", "-serial", "stdio", "-monitor", "none"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.boot_log = self._read_until(b"\n>>> ", boot_timeout)
        self.boot_seconds = time.monotonic() - started

    def _read_until(self, token, timeout):
        deadline = time.monotonic() + timeout
        while token not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise EmulatorError("no %r within %.0f s; the console said:\n%s"
                                    % (token, timeout, self._buf.decode(errors="replace")))
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.2))
            if ready:
                data = os.read(self.proc.stdout.fileno(), 4096)
                if not data:
                    continue
                self._buf += data
        head, _, self._buf = self._buf.partition(token)
        return head + token

    def _send(self, data):
        # Paced, in small pieces. The emulated UART has a 128-byte FIFO and the firmware a
        # 256-byte input buffer; the raw-paste mode's flow control loses a byte at its window
        # boundaries in this emulator (about one 512-byte line in ten under load), while 32 bytes
        # every 10 ms lost none of 237 lines of 512 bytes on a loaded machine.
        for i in range(0, len(data), PIECE):
            self.proc.stdin.write(data[i:i + PIECE])
            self.proc.stdin.flush()
            time.sleep(PACE)

    def run(self, code, timeout=30):
        """Execute `code` in the raw REPL; return its output, raise EmulatorError on an exception."""
        self._send(b"\r\x01")
        self._read_until(b"raw REPL; CTRL-B to exit\r\n>", 5)
        self._send(code.encode() + b"\x04")
        self._read_until(b"OK", 10)
        out = self._read_until(b"\x04", timeout)[:-1]
        err = self._read_until(b"\x04", timeout)[:-1]
        self._read_until(b">", 5)
        self._send(b"\x02")
        self._read_until(b"\n>>> ", 5)
        if err:
            raise EmulatorError(err.decode(errors="replace").replace("\r", ""))
        return out.decode(errors="replace").replace("\r", "")

    def upload(self, name, data):
        """Write bytes to a file on the device's filesystem, each piece checked and resent if
        the UART lost a byte of it."""
        self.run("import binascii\n_f = open(%r, 'wb')" % name)
        for i in range(0, len(data), 384):
            piece = data[i:i + 384]
            line = "_f.seek(%d)\nprint(_f.write(binascii.a2b_base64(%r)))" % (
                i, binascii.b2a_base64(piece, newline=False).decode())
            for _ in range(3):
                try:
                    if self.run(line).strip() == str(len(piece)):
                        break
                except EmulatorError:
                    pass
            else:
                raise EmulatorError("could not write %s to the device" % name)
        self.run("_f.close()")

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self._dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def interactive(image):
    flash = os.path.join(tempfile.mkdtemp(prefix="kiln-emu-"), "flash.bin")
    subprocess.run([ESPTOOL, "--chip", "esp8266", "merge-bin", "--flash-size", EMULATED_FLASH,
                    "-o", flash, "0x0", image], check=True, capture_output=True)
    print("emulate: %s on an emulated ESP8266 (no network); Ctrl-] quits" % image, flush=True)
    os.execv(QEMU, [QEMU, "-M", "esp8266", "-L", os.path.join(VENDOR, "esp8266-qemu"),
                    "-kernel", flash, "-display", "none", "-serial", "mon:stdio",
                    "-echr", "0x1d"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image")
    parser.add_argument("script", nargs="?")
    parser.add_argument("--interactive", action="store_true")
    args = parser.parse_args()
    if args.interactive or not args.script:
        interactive(args.image)
    with open(args.script) as f, Emulator(args.image) as emu:
        sys.stdout.write(emu.run(f.read(), timeout=120))


if __name__ == "__main__":
    main()
