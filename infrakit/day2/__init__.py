"""Day-2 commands on a converged host: `infrakit status`, `infrakit logs`, `infrakit ssh`."""
