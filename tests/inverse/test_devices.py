"""Prior, true-solver forward map, posterior and sampler keep their tensors on the device of their inputs."""

import numpy as np
import torch

from neurops.inverse import DarcyForward, FieldPosterior, GRFPrior, laplace_reference, make_observations, pcn


def test_chains_on_the_device_equal_the_cpu_chains(device):
    prior = GRFPrior(resolution=9, max_wavenumber=3)
    xi = prior.sample(1, torch.Generator().manual_seed(0))
    u = DarcyForward()(prior.coefficient_field(xi))[0].numpy()
    x = np.linspace(0, 1, 9)
    obs = make_observations(u, {"x": x, "y": x}, n_obs=10, snr_db=25.0, seed=0)
    runs = {}
    for dev in ("cpu", device):
        post = FieldPosterior(prior, DarcyForward(), [obs], device=dev)
        x0 = prior.sample(3, torch.Generator().manual_seed(1), device=dev)[None]
        assert x0.device.type == torch.device(dev).type
        ref, _ = laplace_reference(post, torch.zeros(1, prior.dim, dtype=torch.float64, device=dev))
        chains = pcn(post.potential, x0, n_burn=5, n_samples=10, reference=ref,
                     generator=torch.Generator().manual_seed(2))
        assert chains.samples.device.type == torch.device(dev).type
        runs[dev] = chains.samples.cpu()
    assert torch.allclose(runs["cpu"], runs[device], atol=1e-6)
