"""Reads a safetensors file of float32 tensors (what `./vae` exports) into PyTorch tensors, with no package beyond torch."""
import json, struct
import numpy as np, torch


def read_safetensors(path):
    raw = open(path, 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]; header = json.loads(raw[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == '__metadata__': continue
        b, e = t['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + b:8 + n + e], np.float32).reshape(t['shape']).copy())
    return out
