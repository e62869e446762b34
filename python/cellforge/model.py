"""cellforge model files (.cfm) and training states (.cfs), read without the engine."""

import ctypes
import json
import struct

from . import _lib


def read_header(path):
    """A model file's header (space, arch, input, classes, normalize, curve,
    accuracies, tensors) and the byte offset of its data: (dict, int)."""
    with open(path, "rb") as f:
        head = f.read(16)
        if len(head) < 16 or head[:8] not in (b"CFMODEL1", b"CFSTATE1"):
            raise ValueError("%s: not a cellforge model file or state (magic %r)" % (path, head[:8]))
        (hlen,) = struct.unpack_from("<Q", head, 8)
        text = f.read(hlen)
    if len(text) != hlen:
        raise ValueError("%s: truncated: the header says %d bytes, the file has fewer" % (path, hlen))
    return json.loads(text.decode("utf-8")), 16 + hlen


def logits(path, x):
    """cellforge's own inference-mode logits of a model file (computed by the
    engine on the CPU) for float32 images x of shape (n, c, h, w), normalized as
    the model was trained: a numpy array (n, classes)."""
    import numpy as np
    header, _ = read_header(path)
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.shape[0]
    out = np.zeros((n, header["classes"]), dtype=np.float32)
    fp = ctypes.POINTER(ctypes.c_float)
    _lib.check(_lib.lib.cellforge_model_logits(_lib.enc(str(path)), x.ctypes.data_as(fp), n, out.ctypes.data_as(fp),
                                                out.size))
    return out
