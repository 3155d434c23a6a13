#!/usr/bin/env bash
# Runs every hygie test with the real services they need: PostgreSQL, MinIO
# and a single-node Slurm cluster (started on loopback, installed when
# missing) and Debian's Chromium.
# In CI (CI=true) a test whose service is missing fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Go release hygie is built with (see the Makefile).
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.26.11}"

if ! command -v chromium >/dev/null 2>&1; then
  echo "test.sh: installing Chromium from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2 && apt-get install -y -q chromium >&2
fi

# scikit-learn is the reference our learners and metrics are checked
# against; XGBoost the reference of imported models and their TreeSHAP;
# statsmodels the reference of Fleiss' kappa.
if ! /usr/bin/python3 -c 'import sklearn, xgboost, statsmodels' >/dev/null 2>&1; then
  echo "test.sh: installing python3-sklearn, python3-xgboost and python3-statsmodels from Debian's packages (reference checks)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2 && apt-get install -y -q python3-sklearn python3-xgboost python3-statsmodels >&2
fi

HYGIE_TEST_POSTGRES="$(scripts/postgres.sh | tail -n 1)"
export HYGIE_TEST_POSTGRES
HYGIE_MINIO_BIN="$(scripts/minio.sh | tail -n 1)"
export HYGIE_MINIO_BIN
# OpenLDAP (Debian's slapd) on loopback for the LDAP sign-in tests; the
# OpenID Connect tests build and start their own provider (tools/oidcop).
HYGIE_TEST_LDAP="$(scripts/ldap.sh | tail -n 1)"
export HYGIE_TEST_LDAP
export HYGIE_CHROMIUM="$(command -v chromium)"
# A single-node Slurm cluster on loopback for the Slurm executor's tests.
test "$(scripts/slurm.sh | tail -n 1)" = ok
export HYGIE_TEST_SLURM=1

echo "test.sh: PostgreSQL at ${HYGIE_TEST_POSTGRES%%\?*}, MinIO binary ${HYGIE_MINIO_BIN}, LDAP ${HYGIE_TEST_LDAP}, Chromium ${HYGIE_CHROMIUM}, Slurm cluster $(sinfo -h -o '%P %t %D' | head -n 1)" >&2
make vet
go test -count=1 -timeout 20m "$@" ./...

# The scale-out proof (docs/deployment.md): PostgreSQL, MinIO and Slurm,
# one hygie server, two serving replicas behind nginx, one stopped and one
# killed under load; zero failed requests and every prediction logged once.
scripts/scaleout.sh

# The Debian package: built, inspected, installed, upgraded and removed in a
# private mount namespace (the machine is left as it was).
scripts/deb-check.sh

# Security checks: govulncheck on a local copy of the Go vulnerability
# database, gosec, and every fuzz target for a bounded time.
scripts/security.sh
