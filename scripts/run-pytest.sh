#!/usr/bin/env bash
# Runs the suite; a run that collects no test is a failure, not a silent success (pytest exit 5).
set -uo pipefail
python_bin=${1:?usage: run-pytest.sh PYTHON}
shift
"$python_bin" -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: treating this as a failure" >&2
  exit 1
fi
exit "$status"
