#!/usr/bin/env bash
# Runs scripts/openapi-check.py in a virtualenv of its own under target/ (openapi-spec-validator
# and jsonschema from PyPI; Debian has no openapi-spec-validator). Idempotent: installs once.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/openapi-venv
if ! "$venv/bin/python" -c "import openapi_spec_validator, jsonschema, referencing" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "openapi-spec-validator==0.7.1" "jsonschema==4.23.0"
fi
exec "$venv/bin/python" scripts/openapi-check.py "${1:-target/openapi}"
