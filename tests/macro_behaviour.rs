//! Behaviour of generated code: see the tests below.
