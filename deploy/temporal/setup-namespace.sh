#!/bin/sh
# Creates Caseflow's Temporal namespace if it is missing and registers Caseflow's search
# attributes in it, then exits. Idempotent: existing ones are left alone.
#
# Keep the list in sync with caseflow/workflows/search.py (tests/unit/test_search_attributes.py
# checks it). `caseflow temporal setup` registers the same attributes from the code and can be
# used instead, e.g. against an external cluster.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NS="${CASEFLOW_TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-720h}"
ATTRIBUTES="CaseState=Keyword CaseStage=Keyword CaseQueue=Keyword CaseOwner=Keyword
CaseChannel=Keyword CaseProduct=Keyword SlaStatus=Keyword CasePriority=Int SlaDueAt=Datetime"

t() { temporal "$@" --address "$ADDRESS"; }

echo "waiting for the Temporal frontend at $ADDRESS"
tries=0
until t operator cluster health >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "Temporal did not become healthy" >&2; exit 1; }
  sleep 2
done

if t operator namespace describe --namespace "$NS" >/dev/null 2>&1; then
  echo "namespace $NS exists"
else
  echo "creating namespace $NS (retention $RETENTION)"
  t operator namespace create --namespace "$NS" --retention "$RETENTION"
fi

# A namespace that was just created takes a few seconds to reach every frontend cache, so
# each attribute is retried until the listing shows it.
for pair in $ATTRIBUTES; do
  name="${pair%%=*}"
  type="${pair#*=}"
  tries=0
  until t operator search-attribute list --namespace "$NS" | grep -qw "$name"; do
    tries=$((tries + 1))
    [ "$tries" -lt 30 ] || { echo "could not register $name" >&2; exit 1; }
    t operator search-attribute create --namespace "$NS" --name "$name" --type "$type" \
      || sleep 2
  done
  echo "search attribute $name ($type) registered"
done
echo "namespace $NS is ready for Caseflow"
