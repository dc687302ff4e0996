"""The study: its description as data (spec), one run end to end (experiment), the registry and run names
(results), committed run records, the tables of runs, ensembles, the encoder's prior, SMART's strength, serving
and the course submission. Reads core and losses, never the reports above it."""
