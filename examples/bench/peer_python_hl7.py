#!/usr/bin/env python3
"""A peer for the engine benchmark: python-hl7's asyncio MLLP server (PyPI `hl7`, BSD
licence), which parses each message and answers its own AA ACK, storing nothing.

    python3 peer_python_hl7.py PORT
"""
import asyncio
import sys

import hl7
from hl7.mllp import start_hl7_server


async def handle(reader, writer):
    try:
        while not writer.is_closing():
            message = await reader.readmessage()
            writer.writemessage(message.create_ack())
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


async def main(port):
    async with await start_hl7_server(
        handle, host="127.0.0.1", port=port, encoding="utf-8"
    ) as server:
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
