"""autoclear: automatic cannabis-conviction relief pipeline."""
