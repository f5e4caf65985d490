#!/usr/bin/env python3
"""The baseline of `serialbridge-bench e2e`: what a user would write without SerialBridge.

Reads CSV lines (`temperature,humidity`) from serial ports with pyserial-asyncio, parses them and
sends each reading to a SerialBridge server as one `reading` message of the serialbridge.v1
protocol (hello first; the acks are read and counted), with the `websockets` package. No spool,
no batching, no reconnect: the short program the gateway is compared with (docs/PERFORMANCE.md).

    python3 scripts/bench/baseline.py --server ws://127.0.0.1:8080/gateway/v1 \
        --gateway gw-baseline --token-file token dev-0=/dev/ttyUSB0 dev-1=/dev/ttyUSB1

Needs `pip install pyserial-asyncio==0.6 websockets==17.4` (the bench installs them).
"""
import argparse
import asyncio
import json
import time

import serial_asyncio
import websockets

UNITS = {"temperature": "°C", "humidity": "%"}


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("ports", nargs="+", help="DEVICE=PATH")
    args = parser.parse_args()
    token = open(args.token_file).read().strip()
    epoch = int(time.time())
    headers = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(args.server, subprotocols=["serialbridge.v1"], additional_headers=headers,
                                  max_size=2**20) as ws:
        await ws.send(json.dumps({"type": "hello", "gateway": args.gateway, "software": "baseline",
                                  "protocols": [1], "epoch": epoch, "lastSeq": 0}))
        json.loads(await ws.recv())  # welcome
        state = {"seq": 0, "acked": 0}

        async def read_acks():
            async for message in ws:
                reply = json.loads(message)
                if reply.get("type") == "ack":
                    state["acked"] = reply["seq"]

        async def read_port(device, path):
            reader, _ = await serial_asyncio.open_serial_connection(url=path, baudrate=9600)
            while True:
                line = await reader.readline()
                if not line:
                    return
                try:
                    temperature, humidity = line.decode().strip().split(",")
                    values = {"temperature": float(temperature), "humidity": float(humidity)}
                except ValueError:
                    continue
                state["seq"] += 1
                await ws.send(json.dumps({
                    "type": "reading", "gateway": args.gateway, "epoch": epoch, "seq": state["seq"],
                    "device": device, "profile": "generic-csv-lines", "ts": int(time.time() * 1000),
                    "values": values, "units": UNITS,
                }))

        ports = [port.split("=", 1) for port in args.ports]
        await asyncio.gather(read_acks(), *(read_port(device, path) for device, path in ports))


if __name__ == "__main__":
    asyncio.run(main())
