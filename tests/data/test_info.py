import h5py
import numpy as np

from neurops.data.info import summarize


def test_info_names_nan_and_inf_instead_of_hiding_them(operator_file):
    """`data info` took the range with nanmin/nanmax: a NaN vanished from the summary and an Inf became the range's
    end, so a file the readers refuse looked fine; now the range is over the finite values and the bad samples are
    named."""
    with h5py.File(operator_file, "a") as f:
        f["val/outputs/u"][2, 0, 0] = np.nan
        f["val/outputs/u"][5, 1, 1] = np.inf
        u = f["val/outputs/u"][()]
    finite = u[np.isfinite(u)]
    lines = summarize(operator_file).splitlines()
    line = next(s for s in lines[lines.index("  split 'val' (resolution 16x16)"):] if s.startswith("    outputs/u"))
    assert line == (f"    outputs/u: shape (8, 16, 16) float32, range [{finite.min():.4g}, {finite.max():.4g}], mean "
                    f"{finite.mean():.4g}; 2 NaN/Inf values in samples [2, 5], left out of the range: the readers "
                    f"refuse them (`neurops data check {operator_file}` scans every sample)")
    with h5py.File(operator_file) as f:
        a = f["train/inputs/a"][()]
    assert f"    inputs/a: shape (24, 16, 16) float32, range [{a.min():.4g}, {a.max():.4g}], mean {a.mean():.4g}\n" in (
        summarize(operator_file))
