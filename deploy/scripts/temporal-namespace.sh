#!/bin/sh
# Registers the namespace trueup's workflows run in, once the Temporal server responds.
set -eu
namespace="${TEMPORAL_NAMESPACE:-default}"
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  echo "waiting for Temporal at $TEMPORAL_ADDRESS"
  sleep 3
done
temporal operator namespace describe -n "$namespace" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 \
  || temporal operator namespace create -n "$namespace" --retention 30d --address "$TEMPORAL_ADDRESS"
echo "namespace $namespace is registered"
