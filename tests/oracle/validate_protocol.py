"""Validates Airbyte protocol lines against the official models (airbyte-protocol-models-pdv2).

Usage: validate_protocol.py LABEL [--expect TYPE=N ...] < lines
Every stdin line must parse as an AirbyteMessage; prints the count per message type and exits 1
on the first invalid line or when an expected count is missing.
"""
import collections
import sys

from airbyte_protocol.models import AirbyteMessage


def main() -> int:
    label = sys.argv[1]
    expected = {}
    for arg in sys.argv[2:]:
        if arg == "--expect":
            continue
        kind, _, minimum = arg.partition("=")
        expected[kind] = int(minimum)
    counts = collections.Counter()
    for number, line in enumerate(sys.stdin, start=1):
        line = line.strip()
        if not line:
            print(f"{label}: line {number} is empty", file=sys.stderr)
            return 1
        try:
            message = AirbyteMessage.model_validate_json(line)
        except Exception as error:  # pydantic's ValidationError and JSON errors alike
            print(f"{label}: line {number} is not a valid AirbyteMessage: {error}\n{line[:300]}", file=sys.stderr)
            return 1
        kind = message.type.value
        if kind == "TRACE":
            kind = f"TRACE_{message.trace.type.value}"
        counts[kind] += 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"{label}: {sum(counts.values())} valid lines ({summary})")
    for kind, minimum in expected.items():
        if counts[kind] < minimum:
            print(f"{label}: expected at least {minimum} {kind}, got {counts[kind]}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
