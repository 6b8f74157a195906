"""A backend member for end-to-end tests and the benchmark: answers every request with
its own name (so a test can see which member a request reached) and 200, /healthcheck
included; /headers adds the request's header lines, so that a test can see what the load
balancer inserted; /login sets the cookie JSESSIONID=session-NAME; /client answers the
name and the client's address: the one a PROXY protocol header (v1 or v2) gave, else
the connection's peer. Keeps HTTP/1.1 connections open; closes after an HTTP/1.0 request or
`Connection: close`. One asyncio loop, no per-request threads, so that the member is not
what limits a benchmark. With a certificate and its key it speaks HTTPS. On the same port
over UDP, it answers each datagram with its name and the sender's address.
usage: member_server.py NAME ADDRESS PORT [CERT KEY]"""
import asyncio
import socket
import ssl
import sys

NAME, ADDRESS, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
BODY = (NAME + "\n").encode()


def answer(body, closing, extra=""):
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
    head += extra + ("Connection: close\r\n" if closing else "")
    return (head + "\r\n").encode() + body


KEEP_ALIVE = answer(BODY, closing=False)
CLOSE = answer(BODY, closing=True)


PROXY_V2 = b"\r\n\r\n\x00\r\nQUIT\n"


class Member(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""
        self.client = transport.get_extra_info("peername")[0]
        self.started = False  # past a PROXY protocol header, if any

    def proxy_header(self):
        """Takes a PROXY protocol header off the start of the connection; False while
        more bytes are needed to tell."""
        data = self.pending
        if data.startswith(b"PROXY "):
            if b"\r\n" not in data:
                return False
            line, self.pending = data.split(b"\r\n", 1)
            self.client = line.split(b" ")[2].decode()
        elif PROXY_V2.startswith(data[:12]) and len(data) < 16:
            return False
        elif data.startswith(PROXY_V2):
            length = int.from_bytes(data[14:16], "big")
            if len(data) < 16 + length:
                return False
            family, addresses = data[13] >> 4, data[16:16 + length]
            if family == 1:
                self.client = socket.inet_ntop(socket.AF_INET, addresses[:4])
            elif family == 2:
                self.client = socket.inet_ntop(socket.AF_INET6, addresses[:16])
            self.pending = data[16 + length:]
        return True

    def data_received(self, data):
        self.pending += data
        if not self.started:
            self.started = self.proxy_header()
            if not self.started:
                return
        while b"\r\n\r\n" in self.pending:
            head, self.pending = self.pending.split(b"\r\n\r\n", 1)
            request_line, _, headers = head.partition(b"\r\n")
            closing = (request_line.endswith(b"HTTP/1.0")
                       or b"connection: close" in headers.lower())
            path = request_line.split(b" ")[1:2]
            if path == [b"/headers"]:
                self.transport.write(answer(BODY + headers + b"\n", closing))
            elif path == [b"/client"]:
                self.transport.write(answer(f"{NAME} {self.client}\n".encode(), closing))
            elif path == [b"/login"]:
                cookie = f"Set-Cookie: JSESSIONID=session-{NAME}\r\n"
                self.transport.write(answer(BODY, closing, cookie))
            else:
                self.transport.write(CLOSE if closing else KEEP_ALIVE)
            if closing:
                self.transport.close()
                return


class UdpMember(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(f"{NAME} {addr[0]}\n".encode(), addr)


async def main():
    tls = None
    if len(sys.argv) == 6:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(sys.argv[4], sys.argv[5])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Member, ADDRESS, PORT, ssl=tls)
    await loop.create_datagram_endpoint(UdpMember, local_addr=(ADDRESS, PORT))
    await server.serve_forever()


asyncio.run(main())
