"""The checks of the scan pipeline, each an async function over a ScanContext."""
