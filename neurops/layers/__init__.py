"""Function-space building blocks (plain ``nn.Module``s, no Lightning)."""

from neurops.layers.activations import ACTIVATIONS, get_activation
from neurops.layers.boundary import BoundaryPad
from neurops.layers.deeponet import MLP, ConvFieldEncoder, DeepONet, MLPFieldEncoder, MultiONet
from neurops.layers.kernel_interp import GridStencilConv, KernelInterpConv
from neurops.layers.latent_spectral import LatentSpectralBlock
from neurops.layers.local_integral import LocalIntegralConv
from neurops.layers.multigrid import MultigridConv
from neurops.layers.pointwise import PointwiseLinear
from neurops.layers.resample import Resample, resample
from neurops.layers.spectral import SpectralConv

__all__ = ["ACTIVATIONS", "MLP", "BoundaryPad", "ConvFieldEncoder", "DeepONet", "GridStencilConv", "KernelInterpConv",
           "LatentSpectralBlock", "LocalIntegralConv", "MLPFieldEncoder", "MultiONet", "MultigridConv",
           "PointwiseLinear", "Resample", "SpectralConv", "get_activation", "resample"]
