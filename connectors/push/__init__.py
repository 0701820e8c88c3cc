"""Shared pieces of the push direction: input rows, validation, hashing, batching and the audit."""
