"""The Triton kernels compile for an H100/H200 (sm_90) on this CPU-only machine.

Four variants: the 2-D float32 forward transform (3xTF32 dots), the 1-D bfloat16 inverse
transform, the conjugating mode mixing and the 3-D float64 Jacobi stencil sweep with periodic axes.

The interpreter runs the kernels' Python; it does not type-check them as the compiler does (dot
shapes and dtypes, constexpr branches, pointer arithmetic). ``triton.compile`` for a target
needs no GPU: it runs the whole pipeline to a cubin with the ptxas bundled in Triton's wheel.
A subprocess imports the kernel modules without ``TRITON_INTERPRET``, so they are jit functions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")

SCRIPT = r'''
import triton, triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from neurops.kernels import spectral_triton_kernels as stk, stencil_triton as sk

I = "i32"
DFT = dict(x_ptr="*fp32", out_ptr="*fp32", rt_ptr="*fp32", ft_ptr="*fp32", N1=I, N2=I, K1=I, M2=I, sx_plane=I,
           sx_row=I, s_rt=I, s_ft_n=I, s_ft_j=I, ft_im=I)
IDFT = dict(z_ptr="*fp32", y_ptr="*fp32", it_ptr="*fp32", gt_ptr="*fp32", N1=I, N2=I, K1=I, M2=I, sy_plane=I,
            sy_row=I, s_it=I, s_gt_n=I, s_gt_j=I, gt_im=I)
MIX = dict(a_ptr="*fp32", b_ptr="*fp32", out_ptr="*fp32", P=I, Q=I, R=I, K=I, sa_p=I, sa_r=I, sb_r=I, sb_q=I,
           so_p=I, so_q=I)
STAR = dict(u_ptr="*fp64", f_ptr="*fp64", diag_ptr="*fp64", coef_ptr="*fp64", out_ptr="*fp64", omega_ptr="*fp64",
            N0=I, N1=I, N2=I, numel=I, s_op=I, s_coef=I, colour=I)
TRANSFORM = dict(K1P=32, M2P=16, ACC=tl.float32)
CASES = [
    (stk.truncated_dft_kernel, DFT, dict(ONE_D=False, BLOCK_1=32, BLOCK_2=32, DATA_MODE="tf32x3",
                                         MID_MODE="tf32x3", **TRANSFORM)),
    (stk.truncated_idft_kernel, {**IDFT, "y_ptr": "*bf16"}, dict(ONE_D=True, BLOCK_1=32, BLOCK_2=32,
                                                                 DATA_MODE="bf16", MID_MODE="tf32", **TRANSFORM)),
    (stk.mode_mix_kernel, MIX, dict(CONJ_A=True, CONJ_B=False, BP=16, BQ=16, BK=16, ACC=tl.float32)),
    (sk._star_kernel, STAR, dict(NDIM=3, PER0=True, PER1=False, PER2=True, MODE="jacobi", BLOCK=1024)),
]
for jit, types, consts in CASES:
    signature = {name: "constexpr" if name in consts else types[name] for name in jit.arg_names}
    constexprs = {(jit.arg_names.index(name),): value for name, value in consts.items()}
    kernel = triton.compile(ASTSource(fn=jit, signature=signature, constexprs=constexprs),
                            target=GPUTarget("cuda", 90, 32))
    assert len(kernel.asm["cubin"]) > 1000, jit.__name__
    print("compiled", jit.__name__)
'''


def test_kernels_compile_for_sm90():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.count("compiled") == 4
