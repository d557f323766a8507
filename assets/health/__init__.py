"""Health layer: whether each partition's job is done, said as findings the UI, the CLI and alerts share."""
