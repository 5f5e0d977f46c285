"""A counting HTTP/1.1 proxy for the benchmarks (not a test helper).

    python3 count_proxy.py PORT UPSTREAM_HOST:PORT STATE_FILE

Forwards every connection on 127.0.0.1:PORT to UPSTREAM and counts what the clients send: bytes,
and requests by method (each request's head is read; its body is passed on by Content-Length or
by chunked transfer coding). STATE_FILE holds one line, rewritten when a connection opens or closes:

    <bytes sent> <open connections> <GET> <HEAD> <PUT> <POST> <DELETE> <other>
"""

import os
import socket
import sys
import threading

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")

port, upstream, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
host, uport = upstream.rsplit(":", 1)
state = {"bytes": 0, "open": 0, **{m: 0 for m in METHODS}, "other": 0}
lock = threading.Lock()


def publish():
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        fields = ["bytes", "open", *METHODS, "other"]
        f.write(" ".join(str(state[k]) for k in fields))
    os.replace(tmp, out)


def shut_both(client, up):
    """Ends both directions of both sockets (the other side may be gone already)."""
    for s in (client, up):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def forward_requests(client, up):
    """Client to upstream, request by request."""
    rfile = client.makefile("rb", buffering=1 << 16)
    sent = 0
    counts = {}

    def send(b):
        nonlocal sent
        up.sendall(b)
        sent += len(b)

    def copy(n):
        while n > 0:
            b = rfile.read(min(n, 1 << 20))
            if not b:
                raise EOFError
            send(b)
            n -= len(b)

    try:
        while True:
            line = rfile.readline(1 << 16)
            if not line:
                break
            if line in (b"\r\n", b"\n"):
                send(line)
                continue
            method = line.split(b" ", 1)[0].decode("latin-1")
            key = method if method in METHODS else "other"
            counts[key] = counts.get(key, 0) + 1
            head = [line]
            length, chunked = 0, False
            while True:
                h = rfile.readline(1 << 16)
                if not h:
                    raise EOFError
                head.append(h)
                if h in (b"\r\n", b"\n"):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding" and "chunked" in value:
                    chunked = True
            send(b"".join(head))
            if chunked:
                while True:
                    size_line = rfile.readline(1 << 16)
                    if not size_line:
                        raise EOFError
                    send(size_line)
                    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while True:  # trailers, up to the blank line
                            t = rfile.readline(1 << 16)
                            if not t:
                                raise EOFError
                            send(t)
                            if t in (b"\r\n", b"\n"):
                                break
                        break
                    copy(size + 2)
            else:
                copy(length)
    except (OSError, EOFError, ValueError):
        pass
    finally:
        shut_both(client, up)
        with lock:
            state["bytes"] += sent
            for k, n in counts.items():
                state[k] += n
            state["open"] -= 1
            publish()


def forward_responses(up, client):
    """Upstream to client, as it comes."""
    try:
        while True:
            b = up.recv(1 << 20)
            if not b:
                break
            client.sendall(b)
    except OSError:
        pass
    finally:
        shut_both(client, up)


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(512)
with lock:
    publish()
while True:
    c, _ = srv.accept()
    try:
        u = socket.create_connection((host, int(uport)))
    except OSError:  # the emulator is gone: the client sees the connection closed
        c.close()
        continue
    # A request's head and body go on in separate writes: with Nagle's algorithm the body would
    # wait for the ACK of the head, which the server delays (about 40 ms on Linux), and every small
    # PUT would cost the proxy's 40 ms whatever the client.
    for s in (c, u):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with lock:
        state["open"] += 1
        publish()
    threading.Thread(target=forward_requests, args=(c, u), daemon=True).start()
    threading.Thread(target=forward_responses, args=(u, c), daemon=True).start()
