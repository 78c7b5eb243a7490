"""Stand-in for omegaconf (not in Debian 12): the LDM UNet only checks
whether context_dim is a ListConfig."""
