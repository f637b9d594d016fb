#!/usr/bin/env python3
"""A Modbus server for the collectors/modbus integration tests, built on
pymodbus 3.x (Debian 12 ships python3-pymodbus 3.0.0): an implementation
nobody on the WardWatch team wrote.

It serves one register image, written by the test as JSON:

    {"coils": [0, 1, ...], "discrete_inputs": [...],
     "holding_registers": [513, ...], "input_registers": [...]}

Each table starts at protocol address 0 (zero_mode) and ends where its list
ends: reads past the end get exception 2 (illegal data address). Every unit
id sees the same image. --framer rtu speaks RTU frames over TCP, like a
serial gateway in transparent mode.
"""
import argparse
import asyncio
import json
import logging

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.server import StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer


def block(values):
    # An empty table still needs a block; one that validates nothing.
    return ModbusSequentialDataBlock(0, list(values) if values else [0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--framer", choices=["socket", "rtu"], default="socket")
    args = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)

    with open(args.image, encoding="utf-8") as f:
        image = json.load(f)
    slave = ModbusSlaveContext(
        co=block([bool(v) for v in image.get("coils", [])]),
        di=block([bool(v) for v in image.get("discrete_inputs", [])]),
        hr=block(image.get("holding_registers", [])),
        ir=block(image.get("input_registers", [])),
        zero_mode=True,
    )
    context = ModbusServerContext(slaves=slave, single=True)
    framer = ModbusRtuFramer if args.framer == "rtu" else ModbusSocketFramer
    asyncio.run(
        StartAsyncTcpServer(
            context=context,
            address=(args.host, args.port),
            framer=framer,
            allow_reuse_address=True,
        )
    )


if __name__ == "__main__":
    main()
