"""InfraMind Studio: the library behind the tabs."""
