"""The best state of every member of an ensemble so far: buffers that travel with a task's checkpoint.

:class:`~neurops.tasks.dynamics.DynamicsTask` keeps one for a seed study (``seeds=[...]``): after each validation,
the members whose ``val/d_stsp`` improved have their parameter slices copied here, and
:meth:`~neurops.tasks.dynamics.DynamicsTask.member_models` restores them.
"""

from __future__ import annotations

import torch


class MemberBest(torch.nn.Module):
    """Each ensemble member's best parameters so far, its score and step (buffers).

    ``params`` mirrors the ensemble's parameters (``[R, ...]`` each); :meth:`update` copies the
    slices of members whose score improved.
    """

    def __init__(self, ensemble: torch.nn.Module) -> None:
        super().__init__()
        for name, p in ensemble.named_parameters():
            self.register_buffer(self._key(name), p.detach().clone())
        members = next(ensemble.parameters()).shape[0]
        self.register_buffer("score", torch.full((members,), float("inf"), dtype=torch.float64))
        self.register_buffer("step", torch.full((members,), -1, dtype=torch.long))

    @staticmethod
    def _key(name: str) -> str:
        return "p_" + name.replace(".", "__")

    def update(self, ensemble: torch.nn.Module, scores: torch.Tensor, step: int) -> None:
        better = scores.to(self.score.device) < self.score
        if not better.any():
            return
        for name, p in ensemble.named_parameters():
            buf = getattr(self, self._key(name))
            buf[better.to(buf.device)] = p.detach()[better.to(p.device)]
        self.score[better] = scores.to(self.score.device)[better]
        self.step[better] = step

    def summary(self, seeds: list[int], validations: int, every: int | None) -> str:
        """Each member's seed, best score (validation D_stsp) and its step, and their mean +- sem and median over
        the members with a finite one; ``validations``: how many validations updated the record, ``every``: the
        validation interval in epochs (named when none ran)."""
        from neurops.metrics.dsr import summarize

        rows = [f"  member {r} (seed {s}): "
                + (f"best val/d_stsp {float(self.score[r]):.4g} at step {int(self.step[r])}" if self.step[r] >= 0
                   else "no finite val/d_stsp; keeps its final state")
                for r, s in enumerate(seeds)]
        st = summarize(self.score.tolist())
        if st["n"] > 0:
            missing = len(seeds) - st["n"]
            last = (f"  best val/d_stsp over the {st['n']} members with a finite score: mean {st['mean']:.4g} "
                    f"+- {st['sem']:.2g} (sem), median {st['median']:.4g}"
                    + (f"; {missing} never finite" if missing else ""))
        elif validations == 0:
            last = ("  no validation ran" + (f" (it runs every {every} epochs: --trainer.check_val_every_n_epoch)"
                                             if every else "") + "; every member keeps its final state")
        else:
            last = "  no member reached a finite val/d_stsp (every validation orbit diverged)"
        return "\n".join([f"ensemble of {len(seeds)} members (each member's best state is in every checkpoint; "
                          "`neurops dsr evaluate` evaluates them all):", *rows, last])

    def restore(self, models: list[torch.nn.Module]) -> None:
        """Put member r's best parameters into ``models[r]`` (members never scored keep theirs)."""
        for r, model in enumerate(models):
            if self.step[r] < 0:
                continue
            with torch.no_grad():
                for name, p in model.named_parameters():
                    p.copy_(getattr(self, self._key(name))[r])


__all__ = ["MemberBest"]
