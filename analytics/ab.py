"""A/B assignment (the kernel's, activities/experiment.py): re-exported for the analytics side."""

from __future__ import annotations

from activities.experiment import Experiment, Overrides, Variant, assign, bucket, variant_of

__all__ = ["Experiment", "Overrides", "Variant", "assign", "bucket", "variant_of"]
