"""Search spaces and architectures: load, sample, mutate, parse, cost, encode."""

import collections
import ctypes
import json

from . import _lib
from ._lib import lib, check, enc

Cost = collections.namedtuple("Cost", "params macs activation_bytes")
Cost.__doc__ = """Exact cost of an arch's network: parameters, MACs per image, and the
activation bytes of one training step at the batch (the engine's memory plan)."""


PROXIES = ("params", "macs", "grad_norm", "snip", "synflow", "naswot", "fisher", "jacob_cov")


def spaces():
    """The names of the spaces in the spaces directory."""
    return json.loads(_lib.take_text(lib.cellforge_spaces_json()))


def _options_text(options):
    return ",".join("%s=%s" % (k, v) for k, v in options.items())


class Space:
    """A search space by name ("nb201", "darts", "nb101", "mobile") or a .json file,
    with skeleton options: ``Space("nb201", C=16, N=5)``.

    Archs are the space's text form (``str``), as the CLI, the journal and the
    report write them. Every method that takes an arch parses and validates it,
    and raises :class:`cellforge.Error` with the column and what was expected.
    """

    def __init__(self, name="nb201", **options):
        handle = ctypes.c_void_p()
        check(lib.cellforge_space_load(enc(str(name)), enc(_options_text(options)), ctypes.byref(handle)))
        self._h = handle
        self._source = str(name)
        info = json.loads(_lib.take_text(lib.cellforge_space_json(self._h)))
        self.name = info["name"]
        self.family = info["family"]
        self.path = info["path"]
        self.doc = info["doc"]
        self.ops = info["ops"]
        self.options = info["options"]
        self.size = info["size"]
        self.syntax = info["syntax"]
        self.encoding_sizes = info["encoding_sizes"]

    def __del__(self):
        h = getattr(self, "_h", None)
        if h:
            lib.cellforge_space_free(h)
            self._h = None

    def __repr__(self):
        opts = ", ".join("%s=%g" % kv for kv in self.options.items())
        return "Space(%r, %s)" % (self.name, opts)

    @property
    def source(self):
        """What the space was loaded from: its name or its file."""
        return self._source

    def _text_call(self, fn, *args):
        buf = ctypes.create_string_buffer(_lib.ARCH_MAX)
        check(fn(self._h, *args, buf, _lib.ARCH_MAX))
        return buf.value.decode("utf-8")

    def sample(self, seed=0):
        """A uniformly sampled arch; the same seed gives the same arch."""
        return self._text_call(lib.cellforge_arch_sample, seed)

    def parse(self, arch):
        """Validate an arch text and print it back in the space's text form."""
        return self._text_call(lib.cellforge_arch_format, enc(arch))

    def mutate(self, arch, seed=0):
        """A neighbour of arch (one op, input, edge or block changed), drawn with seed."""
        return self._text_call(lib.cellforge_arch_mutate, enc(arch), seed)

    def canonical(self, arch):
        """The canonical form: dead edges dropped, isomorphic cells equal."""
        buf = ctypes.create_string_buffer(_lib.ARCH_MAX)
        check(lib.cellforge_arch_canonical(self._h, enc(arch), buf, _lib.ARCH_MAX, None))
        return buf.value.decode("utf-8")

    def hash(self, arch):
        """64-bit hash of the canonical form (equal for equal networks)."""
        buf = ctypes.create_string_buffer(_lib.ARCH_MAX)
        h = ctypes.c_uint64()
        check(lib.cellforge_arch_canonical(self._h, enc(arch), buf, _lib.ARCH_MAX, ctypes.byref(h)))
        return h.value

    def cost(self, arch, input=(1, 28, 28), classes=10, batch=256):
        """Exact :class:`Cost` of the arch's network for images ``input`` = (c, h, w)."""
        out = (ctypes.c_int64 * 3)()
        c, h, w = input
        check(lib.cellforge_arch_cost(self._h, enc(arch), c, h, w, classes, batch, out))
        return Cost(out[0], out[1], out[2])

    def encode(self, arch, kind="onehot"):
        """The arch's encoding as a list of floats: "onehot" or "path" (BANANAS)."""
        kinds = {"onehot": 0, "path": 1}
        if kind not in kinds:
            raise ValueError("encoding %r: onehot or path" % (kind,))
        size = self.encoding_sizes[kind]
        out = (ctypes.c_float * max(size, 1))()
        n = ctypes.c_size_t()
        check(lib.cellforge_arch_encode(self._h, enc(arch), kinds[kind], out, size, ctypes.byref(n)))
        return list(out[:n.value])

    def score(self, arch, dataset="fashion-mnist", batch=64, seed=0, threads=0):
        """Zero-cost proxies of the untrained arch, as `cellforge score` computes them
        (README "Scoring without training"): a dict of params, macs, grad_norm,
        snip, synflow, naswot, fisher and jacob_cov, higher better for each. The
        minibatch is the first ``batch`` training images of ``dataset`` (a name,
        "npz:FILE" or "folder:DIR"; loaded once) in the order of ``seed``, which
        also seeds the weights."""
        out = (ctypes.c_double * len(PROXIES))()
        check(lib.cellforge_arch_score(self._h, enc(arch), enc(dataset), batch, seed, threads, out))
        return dict(zip(PROXIES, out))

    def net(self, arch, input=(1, 28, 28), classes=10):
        """The arch's network as the engine builds it: a dict with its layers in order."""
        c, h, w = input
        return json.loads(_lib.take_text(lib.cellforge_arch_net_json(self._h, enc(arch), c, h, w, classes)))
