"""A backend member for end-to-end tests and the benchmark: answers every request with
its own name (so a test can see which member a request reached) and 200, /healthcheck
included; /headers adds the request's header lines, so that a test can see what the load
balancer inserted; /login sets the cookie JSESSIONID=session-NAME. Keeps HTTP/1.1 connections open; closes after an HTTP/1.0 request or
`Connection: close`. One asyncio loop, no per-request threads, so that the member is not
what limits a benchmark.  usage: member_server.py NAME ADDRESS PORT"""
import asyncio
import sys

NAME, ADDRESS, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
BODY = (NAME + "\n").encode()


def answer(body, closing, extra=""):
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
    head += extra + ("Connection: close\r\n" if closing else "")
    return (head + "\r\n").encode() + body


KEEP_ALIVE = answer(BODY, closing=False)
CLOSE = answer(BODY, closing=True)


class Member(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""

    def data_received(self, data):
        self.pending += data
        while b"\r\n\r\n" in self.pending:
            head, self.pending = self.pending.split(b"\r\n\r\n", 1)
            request_line, _, headers = head.partition(b"\r\n")
            closing = (request_line.endswith(b"HTTP/1.0")
                       or b"connection: close" in headers.lower())
            path = request_line.split(b" ")[1:2]
            if path == [b"/headers"]:
                self.transport.write(answer(BODY + headers + b"\n", closing))
            elif path == [b"/login"]:
                cookie = f"Set-Cookie: JSESSIONID=session-{NAME}\r\n"
                self.transport.write(answer(BODY, closing, cookie))
            else:
                self.transport.write(CLOSE if closing else KEEP_ALIVE)
            if closing:
                self.transport.close()
                return


async def main():
    server = await asyncio.get_running_loop().create_server(Member, ADDRESS, PORT)
    await server.serve_forever()


asyncio.run(main())
