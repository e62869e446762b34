"""Loading libcellforge.so and declaring its C API (include/cellforge/api.h)."""

import ctypes
import os
import pathlib

_HERE = pathlib.Path(__file__).resolve().parent
API_VERSION = 2
ARCH_MAX = 4096


class Error(Exception):
    """A failure reported by the cellforge library, with its message."""


def _candidates():
    env = os.environ.get("CELLFORGE_LIB")
    if env:
        yield pathlib.Path(env)
        return
    yield _HERE / "libcellforge.so"  # pip install .
    # a source checkout: python/cellforge next to build/
    yield _HERE.parent.parent / "build" / "libcellforge.so"


# How long waiting OpenMP threads spin before they sleep: the `cellforge`
# binary's setting (src/cli/wait_policy.c; README, "Threads on a shared
# machine"). libgomp reads it once, when it is loaded, so it goes into the
# environment just for the load of the library, unless the user set
# OMP_WAIT_POLICY or GOMP_SPINCOUNT; the environment is the user's again
# afterwards, for the programs this process starts. Where libgomp is loaded
# already (PyTorch imported first) it keeps the setting it read then.
WAIT_SETTING = ("GOMP_SPINCOUNT", "3000")


def _load_library(path):
    mine = "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ
    if mine:
        os.environ.setdefault(*WAIT_SETTING)
    try:
        return ctypes.CDLL(str(path))
    finally:
        if mine:
            os.environ.pop(WAIT_SETTING[0], None)


def _load():
    tried = []
    for path in _candidates():
        tried.append(str(path))
        if path.is_file():
            return _load_library(path), path
    raise ImportError("cellforge: libcellforge.so not found (looked at %s); install the package with "
                      "`pip install .` from the repository, or set CELLFORGE_LIB" % ", ".join(tried))


lib, path = _load()

# The spaces shipped with the package, unless the caller chose a directory.
if "CELLFORGE_SPACES" not in os.environ and (_HERE / "search_spaces").is_dir():
    os.environ["CELLFORGE_SPACES"] = str(_HERE / "search_spaces")

c_int, c_char_p, c_void_p, c_size_t = ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t
c_u64, c_i64, c_double = ctypes.c_uint64, ctypes.c_int64, ctypes.c_double
TRIAL_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p, c_size_t)
_ARGV = ctypes.POINTER(c_char_p)

for name, res, args in [
    ("cellforge_api_version", c_int, []),
    ("cellforge_version", c_char_p, []),
    ("cellforge_error", c_char_p, []),
    ("cellforge_free", None, [c_void_p]),
    ("cellforge_space_load", c_int, [c_char_p, c_char_p, ctypes.POINTER(c_void_p)]),
    ("cellforge_space_free", None, [c_void_p]),
    ("cellforge_space_json", c_void_p, [c_void_p]),
    ("cellforge_spaces_json", c_void_p, []),
    ("cellforge_arch_sample", c_int, [c_void_p, c_u64, c_char_p, c_size_t]),
    ("cellforge_arch_format", c_int, [c_void_p, c_char_p, c_char_p, c_size_t]),
    ("cellforge_arch_mutate", c_int, [c_void_p, c_char_p, c_u64, c_char_p, c_size_t]),
    ("cellforge_arch_canonical", c_int, [c_void_p, c_char_p, c_char_p, c_size_t, ctypes.POINTER(c_u64)]),
    ("cellforge_arch_cost", c_int, [c_void_p, c_char_p, c_int, c_int, c_int, c_int, c_int, ctypes.POINTER(c_i64)]),
    ("cellforge_arch_encode", c_int, [c_void_p, c_char_p, c_int, ctypes.POINTER(ctypes.c_float), c_size_t,
                                      ctypes.POINTER(c_size_t)]),
    ("cellforge_arch_net_json", c_void_p, [c_void_p, c_char_p, c_int, c_int, c_int, c_int]),
    ("cellforge_arch_score", c_int, [c_void_p, c_char_p, c_char_p, c_int, c_u64, c_int, ctypes.POINTER(c_double)]),
    ("cellforge_model_logits", c_int, [c_char_p, ctypes.POINTER(ctypes.c_float), c_int,
                                       ctypes.POINTER(ctypes.c_float), c_size_t]),
    ("cellforge_search", c_int, [c_int, _ARGV, TRIAL_FN, c_void_p]),
    ("cellforge_search_stop", None, []),
    ("cellforge_study_open", c_int, [c_int, _ARGV, ctypes.POINTER(c_void_p)]),
    ("cellforge_study_ask", c_int, [c_void_p, c_double, c_char_p, c_size_t]),
    ("cellforge_study_tell", c_int, [c_void_p, c_i64, c_int, c_char_p]),
    ("cellforge_study_close", c_int, [c_void_p]),
]:
    fn = getattr(lib, name)
    fn.restype = res
    fn.argtypes = args

if lib.cellforge_api_version() != API_VERSION:
    raise ImportError("cellforge: %s has C API version %d, this package speaks version %d: rebuild it"
                      % (path, lib.cellforge_api_version(), API_VERSION))


def cli_path():
    """The `cellforge` command beside the library (installed with the package, or
    the build directory's), or None."""
    for p in (path.parent / "bin" / "cellforge", path.parent / "cellforge"):
        if p.is_file() and os.access(str(p), os.X_OK):
            return str(p)
    return None


def error():
    """The library's last message on this thread."""
    return (lib.cellforge_error() or b"").decode("utf-8", "replace")


def check(rc):
    if rc != 0:
        raise Error(error())


def enc(s):
    return s.encode("utf-8") if isinstance(s, str) else s


def take_text(ptr):
    """A char * the library allocated, as str (freed); Error on NULL."""
    if not ptr:
        raise Error(error())
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        lib.cellforge_free(ptr)


def argv(args):
    """A C argv (argv[0] "search") for a list of str; keeps its buffers alive."""
    items = [b"search"] + [enc(str(a)) for a in args]
    arr = (c_char_p * (len(items) + 1))(*items, None)
    return len(items), arr
