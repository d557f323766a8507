"""Data quality: pandera schemas for every frame that crosses a layer, and the invariants checked on assets."""
