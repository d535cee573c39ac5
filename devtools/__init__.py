"""Development tooling, not part of the site: the launcher behind `make run` and `make test`."""
