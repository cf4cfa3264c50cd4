"""eindex-codegen: eindex patterns compiled to plain numpy and torch code.

    import eindex_codegen as eindex
    emb = eindex.gather(images, best, 'b h w c, [h, w] b t -> b t c')

Importing this package loads numpy only; the parser (lark) and the templates
(jinja2) load the first time a pattern has to be compiled.
"""

from eindex_codegen import numpy
from eindex_codegen.api import (
    argmax,
    argmin,
    argsort,
    cached_path,
    explain,
    gather,
    gather_scatter,
    scatter,
    source,
    use_generated,
)
from eindex_codegen.decorator import compile
from eindex_codegen.errors import EindexError, PatternError
from eindex_codegen.version import __version__

__all__ = [
    "EindexError",
    "PatternError",
    "__version__",
    "argmax",
    "argmin",
    "argsort",
    "cached_path",
    "compile",
    "explain",
    "gather",
    "gather_scatter",
    "numpy",
    "scatter",
    "source",
    "use_generated",
]


def __getattr__(name):
    # eindex_codegen.torch is imported on first access, so `import eindex_codegen` stays as cheap
    # as it was without it.
    if name == "torch":
        import importlib

        return importlib.import_module("eindex_codegen.torch")
    raise AttributeError(f"module 'eindex_codegen' has no attribute {name!r}")
