"""What each process runs in the interrupted multi-process run of the distributed tests.

``torchrun --nproc-per-node N -m tests.protopool.training.ddp_worker STOP DATA OUT OVERRIDES...``
trains as ``protopool train --data DATA --out OUT OVERRIDES...`` does, except that process 0
raises when it logs a line starting with ``STOP``, as an interrupted run stops; torchrun then
ends the other processes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from protopool.config import load_config
from protopool.training.distributed import launch
from protopool.training.runs import train_run
from tests.protopool.fixtures import interrupt_at


def main(argv: list[str]) -> None:
    stop_at, data, out, *overrides = argv
    config = load_config(None, [f"data.root={json.dumps(data)}", *overrides])
    with launch(config.train.device) as shard:
        train_run(config, Path(out), log=interrupt_at(stop_at), shard=shard)


if __name__ == "__main__":
    main(sys.argv[1:])
