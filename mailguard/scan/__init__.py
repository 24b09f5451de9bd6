"""The scan pipeline: facts + raw bytes in, a Verdict of named, scored symbols out."""
