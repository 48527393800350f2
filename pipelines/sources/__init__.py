"""Input readers: the only part of the pipeline that reads input files (DOJ research file, court extracts)."""
