"""Fixtures of the fuzz and property suite (tests/fuzz): see fuzz_support for the shared
hypothesis settings (derandomized, no example database) and the error classes an input may
end in."""
