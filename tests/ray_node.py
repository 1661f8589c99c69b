"""Start a Ray worker node joining GCS_ADDRESS on 127.0.0.1, as ``ray start --address --block``
does, and keep it up until killed (see ray_cluster.py for why not ``ray start`` itself).

usage: python ray_node.py GCS_ADDRESS NUM_CPUS OBJECT_STORE_BYTES TEMP_DIR
"""

import sys
import time

from ray._private.node import Node
from ray._private.parameter import RayParams

gcs_address, num_cpus, object_store_bytes, temp_dir = sys.argv[1:]
params = RayParams(node_ip_address="127.0.0.1", gcs_address=gcs_address, num_cpus=int(num_cpus),
                   object_store_memory=int(object_store_bytes), temp_dir=temp_dir,
                   include_log_monitor=False)
node = Node(params, head=False, shutdown_at_exit=True, spawn_reaper=True)
print(f"node {node.unique_id} joined {gcs_address}", flush=True)
while True:
    time.sleep(3600)
