#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host side of the hot-unplug run (scripts/hotplug.sh, scripts/stress.sh).

Usage: hotplug.py QMP_SOCKET SERIAL_LOG CYCLES TIMEOUT
       hotplug.py --hmp QMP_SOCKET COMMAND...

Drives QEMU over QMP while the guest (tests/stress/init with
stress.hotplug_cycles=CYCLES) runs rust_stress in removal mode on the edu
device "edu1" in the hot-plug slot of the PCIe root port "rp1". For each
cycle N it waits until the guest's serial log has the N-th
"STRESS-DMA-RUNNING" line (a transfer of the binding has completed; the next
one starts within 200 ms) and the guest's "STRESS-HOTPLUG: cycle N bound",
then sends device_del, which presses the slot's attention button (pciehp
removes the device 5 s later and powers the slot off), waits for QMP's
DEVICE_DELETED event of edu1, which QEMU sends once the guest has let go of
the device, waits for the guest's "STRESS-HOTPLUG: cycle N removed", and
sends device_add of a new edu in the same slot.

Prints one line per cycle with its times, then
"HOTPLUG-HOST: cycles=N ok=N"; exits with 0 only if every cycle completed.
The guest powers off after its last cycle by itself.

With --hmp it runs each COMMAND of QEMU's human monitor ("info lapic 1",
say) through QMP's human-monitor-command and prints what it answered:
scripts/stress.sh takes the state of the processors that way when a boot
stops taking timer interrupts.
"""

import json
import select
import socket
import sys
import time


class Failure(Exception):
    """A step that did not complete in time, or that QMP refused."""


class Qmp:
    """A QMP connection: commands, and the events that arrive meanwhile."""

    def __init__(self, path, deadline):
        # QEMU creates the socket while it starts.
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise Failure(f"no QMP socket at {path}")
                time.sleep(0.2)
        self.buf = b""
        self.events = []
        greeting = self.message(deadline)
        if "QMP" not in greeting:
            raise Failure(f"no QMP greeting: {greeting}")
        self.command("qmp_capabilities", {}, deadline)

    def message(self, deadline):
        """Returns the next message, waiting until `deadline` at most."""
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("QMP: no message in time")
            ready, _, _ = select.select([self.sock], [], [], min(left, 1.0))
            if ready:
                data = self.sock.recv(65536)
                if not data:
                    raise Failure("QMP: connection closed")
                self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, args, deadline):
        """Runs a command; returns its result, keeping the events before it."""
        self.sock.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        while True:
            msg = self.message(deadline)
            if "event" in msg:
                self.events.append(msg)
            elif "error" in msg:
                raise Failure(f"QMP {name}: {msg['error']}")
            elif "return" in msg:
                return msg["return"]

    def wait_event(self, name, device, deadline):
        """Waits for event `name` about device `device` (its id)."""
        while True:
            for i, ev in enumerate(self.events):
                if ev["event"] == name and ev.get("data", {}).get("device") == device:
                    del self.events[i]
                    return ev
            self.events.append(self.message(deadline))

    def pump(self):
        """Takes the events that have arrived, without waiting."""
        while True:
            ready, _, _ = select.select([self.sock], [], [], 0)
            if not ready:
                return
            data = self.sock.recv(65536)
            if not data:
                return
            self.buf += data
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.events.append(json.loads(line))


def log_count(path, text):
    """The number of lines of the serial log that contain `text`."""
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if text in line)
    except FileNotFoundError:
        return 0


def wait_log(qmp, path, text, n, deadline, what):
    """Waits until the serial log has `n` lines that contain `text`."""
    want = text.encode()
    while log_count(path, want) < n:
        if time.monotonic() > deadline:
            raise Failure(f"timed out waiting for {what}")
        if qmp is not None:
            qmp.pump()
        time.sleep(0.2)


def hmp(qmp_path, commands):
    """Prints the answer of the human monitor to each of `commands`."""
    deadline = time.monotonic() + 30
    qmp = Qmp(qmp_path, deadline)
    for cmd in commands:
        print(f"(qemu) {cmd}")
        print(qmp.command("human-monitor-command", {"command-line": cmd}, deadline), flush=True)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--hmp":
        try:
            hmp(sys.argv[2], sys.argv[3:])
        except (Failure, OSError, ValueError) as e:
            sys.exit(f"hmp: {e}")
        return
    if len(sys.argv) != 5:
        sys.exit(__doc__.split("\n\n")[1])
    qmp_path, serial, cycles, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    deadline = time.monotonic() + timeout
    ok = 0
    try:
        qmp = Qmp(qmp_path, deadline)
        for n in range(1, cycles + 1):
            t0 = time.monotonic()
            wait_log(qmp, serial, "STRESS-DMA-RUNNING", n, deadline, f"cycle {n}: DMA running")
            wait_log(qmp, serial, f"STRESS-HOTPLUG: cycle {n} bound", 1, deadline, f"cycle {n}: bound")
            t1 = time.monotonic()
            qmp.command("device_del", {"id": "edu1"}, deadline)
            qmp.wait_event("DEVICE_DELETED", "edu1", deadline)
            t2 = time.monotonic()
            wait_log(qmp, serial, f"STRESS-HOTPLUG: cycle {n} removed", 1, deadline,
                     f"cycle {n}: removal seen")
            qmp.command("device_add", {"driver": "edu", "bus": "rp1", "id": "edu1"}, deadline)
            ok += 1
            print(f"HOTPLUG-HOST: cycle {n}: bound and DMA running after {t1 - t0:.1f} s, "
                  f"device_del to DEVICE_DELETED {t2 - t1:.1f} s", flush=True)
    except (Failure, OSError, ValueError) as e:
        print(f"HOTPLUG-HOST: FAILED: {e}", flush=True)
    print(f"HOTPLUG-HOST: cycles={cycles} ok={ok}", flush=True)
    sys.exit(0 if ok == cycles else 1)


if __name__ == "__main__":
    main()
