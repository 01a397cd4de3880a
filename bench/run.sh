#!/usr/bin/env bash
# Run the InfraKit benchmarks and rewrite bench/results.json and the table in
# bench/README.md. The converge and eth parts boot lab hosts (bench1, bench2): root.
# Bounded: --max-minutes (default 90) stops the run and removes its lab hosts.
#
# Usage: bench/run.sh [OPTIONS]     options of `python -m bench`, e.g.
#        bench/run.sh                          everything, 5 runs each (~15-25 min)
#        bench/run.sh --only program,render    no lab host, no root needed
set -Eeuo pipefail

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  if [[ "${EUID}" -ne 0 ]]; then
    INFRAKIT_NO_LAB=1 bash scripts/setup.sh
  else
    bash scripts/setup.sh
  fi
  exec .venv/bin/python -m bench "$@"
}

main "$@"
