"""Helpers the tests (and the benchmarks) share: servers, media makers, clients, the browser."""
