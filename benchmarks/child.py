"""Entry point of one row's child process: `python -m benchmarks.child SPEC_JSON`.

Prints one JSON line: the row's figures, or its error or not-measured reason.
"""

from __future__ import annotations

import sys
import traceback

import orjson

from benchmarks.rows import MEASURES, NotMeasured


def main() -> None:
    spec = orjson.loads(sys.argv[1])
    try:
        result = {"status": "measured", **MEASURES[spec["row"]](spec)}
    except NotMeasured as reason:
        result = {"status": "not measured", "reason": str(reason)}
    except Exception as error:
        traceback.print_exc()
        result = {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")


if __name__ == "__main__":
    main()
