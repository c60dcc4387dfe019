"""A slow upstream: an HTTP server that answers ``GET /?ms=N`` after N milliseconds.

It stands for what an IO-bound view waits on (a remote API, a slow service). Written on
asyncio streams, it holds thousands of waits at once without using CPU, so the wait is
the only thing it adds. Run as ``python -m scalelab.servers.slow_upstream --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import urllib.parse

MAX_MS = 10_000


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            request = await reader.readuntil(b"\r\n\r\n")
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split()
            query = urllib.parse.urlparse(parts[1]).query if len(parts) > 1 else ""
            raw = urllib.parse.parse_qs(query).get("ms", ["0"])[0]
            if not raw.isdigit() or int(raw) > MAX_MS:
                body, status = f"ms must be 0 to {MAX_MS}".encode(), "400 Bad Request"
            else:
                await asyncio.sleep(int(raw) / 1000)
                body, status = b"ok", "200 OK"
            keep = b"connection: close" not in request.lower()
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
                         f"Content-Length: {len(body)}\r\n"
                         f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n".encode()
                         + body)
            await writer.drain()
            if not keep:
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(host: str, port: int) -> None:
    server = await asyncio.start_server(handle, host, port, backlog=2048)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
