"""Software-defined assets by layer (raw, normalized, billing, posting) and the pure transforms beside them."""
