"""cellforge: neural architecture search in C and CUDA, from Python.

    import cellforge
    space = cellforge.Space("nb201", C=8, N=1)
    arch = space.sample(seed=1)
    space.cost(arch)                     # Cost(params=..., macs=..., activation_bytes=...)

    study = cellforge.Study("nb201", strategy="evolution", trials=20, out="runs/mine")
    while (trial := study.ask()) is not None:
        study.tell(trial, acc=train_it_my_way(trial))
    study.close()

    run = cellforge.search("nb201", evaluator=my_fn, workers=2, trials=50)
    run.front(), run.best(), run.dataframe()

    import cellforge.torch                # needs PyTorch
    net = cellforge.torch.build("nb201", arch, C=16, N=5)

The engine is libcellforge.so (its C API is include/cellforge/api.h); nothing
here starts a process or an interpreter per trial.
"""

from ._lib import Error, lib as _clib
from .space import Cost, Space, spaces
from .study import Study, Trial, search
from .run import Run

from .model import logits as model_logits, read_header as model_header

__version__ = _clib.cellforge_version().decode("utf-8")
__all__ = ["Cost", "Error", "Run", "Space", "Study", "Trial", "search", "spaces", "model_logits", "model_header"]
