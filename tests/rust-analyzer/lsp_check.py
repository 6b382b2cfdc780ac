#!/usr/bin/env python3
"""Ask rust-analyzer, over the Language Server Protocol, where the `Devres`
of the edu sample's `use kernel::{..., devres::Devres, ...}` is defined, with
the checkout's rust-project.json (written by scripts/rust-analyzer.sh); then
let it analyse the whole project (`rust-analyzer diagnostics`), in which the
checkout's files must have no error.

    lsp_check.py CHECKOUT [TIMEOUT]

CHECKOUT is the checkout (rust-project.json at its root). The definition must
be on a line that names `Devres`, in a file whose real path is the checkout's
rust/kernel/devres.rs: the kernel crate's root is in the farm the script
makes, whose devres.rs is a symlink to it. An error counts as the checkout's
when its file's real path is in the checkout (a farm path, or the checkout's
own). The server is `rust-analyzer` from PATH (rustup's, ~/.cargo/bin, is
added), or $RUST_ANALYZER; its log goes to $LSP_CHECK_LOG (default none).
Exit status 0 when both hold within TIMEOUT seconds (default 300).
"""

import json
import os
import select
import shutil
import subprocess
import sys
import time
from urllib.parse import unquote, urlparse

checkout = os.path.realpath(sys.argv[1])
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 300
deadline = time.monotonic() + timeout
sample = os.path.join(checkout, "samples/rust/rust_driver_edu.rs")
want = "rust/kernel/devres.rs"
path = os.environ.get("PATH", "") + os.pathsep + os.path.expanduser("~/.cargo/bin")
server = os.environ.get("RUST_ANALYZER") or shutil.which("rust-analyzer", path=path)
if not server:
    sys.exit("lsp_check: no rust-analyzer (rustup component add rust-analyzer)")
if not os.path.isfile(os.path.join(checkout, "rust-project.json")):
    sys.exit("lsp_check: no rust-project.json in the checkout (run scripts/rust-analyzer.sh)")

# The position of Devres in its use line (LSP counts UTF-16 units; the line
# is ASCII).
text = open(sample).read()
for line_no, line in enumerate(text.splitlines()):
    col = line.find("devres::Devres")
    if col >= 0:
        col += len("devres::")
        break
else:
    sys.exit(f"lsp_check: no devres::Devres in {sample}")

proc = subprocess.Popen([server], cwd=checkout, stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=open(os.environ.get("LSP_CHECK_LOG", os.devnull), "w"),
                        env=dict(os.environ, PATH=path))
buf = b""
next_id = 0


def send(msg):
    body = json.dumps(dict(jsonrpc="2.0", **msg)).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()


def receive():
    """The next message, or None at the deadline."""
    global buf
    while True:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            size = next(int(h.split(b":")[1]) for h in head.split(b"\r\n")
                        if h.lower().startswith(b"content-length:"))
            if len(rest) >= size:
                buf = rest[size:]
                return json.loads(rest[:size])
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            return None
        chunk = os.read(proc.stdout.fileno(), 1 << 16)
        if not chunk:
            sys.exit("lsp_check: rust-analyzer exited")
        buf += chunk


def request(method, params):
    """Send a request; return its response, answering the server's own
    requests and noting its status meanwhile."""
    global next_id
    next_id += 1
    send(dict(id=next_id, method=method, params=params))
    while (msg := receive()) is not None:
        if "method" in msg:
            handle(msg)
        elif msg.get("id") == next_id:
            return msg
    return None


quiescent = False


def handle(msg):
    global quiescent
    if "id" in msg:  # a request of the server's: configuration, progress tokens
        items = msg.get("params", {}).get("items", [])
        result = [None] * len(items) if msg["method"] == "workspace/configuration" else None
        send(dict(id=msg["id"], result=result))
    elif msg["method"] == "experimental/serverStatus":
        quiescent = msg["params"].get("quiescent", False)
        if msg["params"].get("message"):
            print(f"    rust-analyzer: {msg['params']['message'].strip()}")


def shutdown():
    if proc.poll() is not None:
        return
    try:
        request("shutdown", None)
        send(dict(method="exit"))
        proc.wait(10)
    except Exception:
        pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def stop(code, why):
    print(f"    {why}")
    shutdown()
    sys.exit(code)


start = time.monotonic()
root_uri = "file://" + checkout
request("initialize", {
    "processId": os.getpid(),
    "rootUri": root_uri,
    "workspaceFolders": [{"uri": root_uri, "name": "drvcore"}],
    "capabilities": {"experimental": {"serverStatusNotification": True},
                     "textDocument": {"definition": {"linkSupport": True}}},
    "initializationOptions": {
        "linkedProjects": [os.path.join(checkout, "rust-project.json")],
        "checkOnSave": False,
        "cachePriming": {"enable": False},
    },
})
send(dict(method="initialized", params={}))
send(dict(method="textDocument/didOpen", params={"textDocument": {
    "uri": "file://" + sample, "languageId": "rust", "version": 1, "text": text}}))

# Until the workspace is loaded, an answer may be empty or "content modified".
while time.monotonic() < deadline:
    while not quiescent and (msg := receive()) is not None:
        if "method" in msg:
            handle(msg)
    resp = request("textDocument/definition", {
        "textDocument": {"uri": "file://" + sample},
        "position": {"line": line_no, "character": col}})
    result = (resp or {}).get("result") or []
    if isinstance(result, dict):
        result = [result]
    if result:
        break
    time.sleep(1)
else:
    stop(1, f"no definition of Devres within {timeout:.0f} s")

loc = result[0]
target = unquote(urlparse(loc.get("targetUri") or loc["uri"]).path)
rng = loc.get("targetSelectionRange") or loc["range"]
where = f"{target}:{rng['start']['line'] + 1}"
print(f"    Devres ({os.path.relpath(sample, checkout)}:{line_no + 1}) -> {where} "
      f"in {time.monotonic() - start:.0f} s")
ours = os.path.join(checkout, want)
if os.path.realpath(target) != ours:
    stop(1, f"not the checkout's {want} (real path {os.path.realpath(target)})")
lines = open(target).read().splitlines()
if "Devres" not in lines[rng["start"]["line"]]:
    stop(1, f"the line is no definition of Devres: {lines[rng['start']['line']].strip()}")
print(f"    definition ok: the checkout's {want}" + ("" if target == ours else " (through a symlink)"))

# Then the errors rust-analyzer finds in the checkout's files, from its batch
# run over the whole project (`rust-analyzer diagnostics`): none may be left.
shutdown()
left = max(1, deadline - time.monotonic())
try:
    run = subprocess.run([server, "diagnostics", os.path.join(checkout, "rust-project.json")],
                         cwd=checkout, capture_output=True, text=True, timeout=left,
                         env=dict(os.environ, PATH=path))
except subprocess.TimeoutExpired:
    stop(1, f"rust-analyzer diagnostics did not finish within {timeout:.0f} s")
lines = run.stdout.replace("\r", "\n").splitlines()
if run.returncode not in (0, 1) or not any(sample in line for line in lines):
    stop(1, f"rust-analyzer diagnostics failed (exit status {run.returncode}) or never analysed {sample}")
# "... at crate C, file PATH: Error ...", PATH as rust-analyzer loaded it.
errors = [line[line.index(", file ") + 7:] for line in lines if ", file " in line and ": Error " in line]
errors = [e for e in errors if os.path.realpath(e.split(": ", 1)[0]).startswith(checkout + "/")]
for e in errors[:20]:
    print(f"    error: {e}")
stop(1 if errors else 0, f"{len(errors)} error(s) in the checkout's files; "
     f"all done in {time.monotonic() - start:.0f} s")
