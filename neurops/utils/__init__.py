"""Small shared helpers: atomic file writes, seeding, the checked torch device, benchmark bookkeeping, opt-in
shape checks."""

from neurops.utils.device import check_device
from neurops.utils.io import atomic_path, check_output_path
from neurops.utils.seeding import sample_seeds, seed_everything

__all__ = ["atomic_path", "check_device", "check_output_path", "sample_seeds", "seed_everything"]
