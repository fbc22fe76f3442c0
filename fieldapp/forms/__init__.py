"""Forms as data: specs, the expression language, validation, built-in forms."""
