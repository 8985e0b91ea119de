"""A TCP proxy that delays every chunk by a fixed one-way latency, both
ways, for the tests of a Redis server a few milliseconds away
(test_latency.py).

    python latency_proxy.py LISTEN_PORT TARGET_PORT ONE_WAY_DELAY_MS

LISTEN_PORT 0 picks a free port; the port listened on is printed on the
first line of stdout ("listening <port>"). Runs until killed.
"""

from __future__ import annotations

import asyncio
import sys
import time


async def pump(reader, writer, delay):
    queue: asyncio.Queue = asyncio.Queue()

    async def send():
        while True:
            at, data = await queue.get()
            if data is None:
                writer.close()
                return
            wait = at + delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    task = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(65536)
            await queue.put((time.monotonic(), data or None))
            if not data:
                break
    except ConnectionError:
        await queue.put((time.monotonic(), None))
    await task


async def main():
    listen, target, delay = (
        int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000)

    async def handle(r, w):
        try:
            tr, tw = await asyncio.open_connection('127.0.0.1', target)
        except OSError:
            w.close()
            return
        await asyncio.gather(pump(r, tw, delay), pump(tr, w, delay),
                             return_exceptions=True)

    srv = await asyncio.start_server(handle, '127.0.0.1', listen)
    print('listening', srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == '__main__':
    asyncio.run(main())
