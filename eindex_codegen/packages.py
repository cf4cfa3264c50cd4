"""Packages of pregenerated modules, as `eindex-gen patterns.txt -o DIR` writes them.

Such a package holds one file per generated module (the same text the disk
cache stores) and an `__init__.py` whose `MODULES` maps each cache key to a
module name. `use_generated(package)` registers one; lookups try registered
packages before the disk cache. A package written by another compiler
version, grammar or template set is not used, and a warning says how to
regenerate it.
"""

import importlib
import logging
import os
import warnings

from eindex_codegen import resources

logger = logging.getLogger("eindex_codegen")

ENVIRONMENT_VARIABLE = "EINDEX_GENERATED"


def regenerate_command(patterns_path, output, backends):
    """Return the eindex-gen command that writes a package again, with its backends."""
    command = f"eindex-gen {patterns_path} -o {output}"
    return command if list(backends) == ["numpy"] else f"{command} --backend {','.join(backends)}"


class Registry:
    """The pregenerated packages in lookup order, and which ones were ruled stale."""

    def __init__(self):
        self._packages = []
        self._environment_read = False

    def use(self, package):
        """Register `package` (a module object or an importable name); return True if it is current."""
        if isinstance(package, str):
            package = importlib.import_module(package)
        if package in self._packages:
            return True
        fingerprint = getattr(package, "COMPILER_FINGERPRINT", None)
        if fingerprint != resources.compiler_fingerprint():
            version = getattr(package, "COMPILER_VERSION", "unknown")
            source = getattr(package, "PATTERNS_FILE", "PATTERNS_FILE")
            backends = getattr(package, "BACKENDS", ("numpy",))
            command = regenerate_command(source, os.path.dirname(package.__file__), backends)
            warnings.warn(
                f"the pregenerated package {package.__name__} was written by another eindex-codegen "
                f"(version {version}, or other templates) and is not used; regenerate it with "
                f"`{command}`", RuntimeWarning, stacklevel=3)
            return False
        self._packages.append(package)
        logger.debug("using pregenerated package %s (%d modules)", package.__name__, len(package.MODULES))
        return True

    def find(self, key, operation):
        """Return the generated function stored under `key` in a registered package, or None."""
        self._read_environment()
        for package in self._packages:
            name = package.MODULES.get(key)
            if name is not None:
                module = importlib.import_module(f"{package.__name__}.{name}")
                logger.debug("pregenerated hit: %s.%s", package.__name__, name)
                return getattr(module, operation)
        return None

    def _read_environment(self):
        if self._environment_read:
            return
        self._environment_read = True
        for name in os.environ.get(ENVIRONMENT_VARIABLE, "").split(","):
            if name.strip():
                self.use(name.strip())
