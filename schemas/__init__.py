"""Pandera schemas: one module per dataset family, plus shared field types in `fields`."""
