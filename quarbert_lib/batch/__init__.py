"""The papermill batch: the plan (runs done and to train, estimated minutes) and the runner (`make reproduce`)."""
