#!/bin/sh
# SIGKILL the node of the test cluster (ci/lib/redis-cluster.sh) on port $1.
exec kill -9 "$(cat "$PL_TEST_CLUSTER_DIR/$1.pid")"
