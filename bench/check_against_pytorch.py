#!/usr/bin/env python3
"""Cross-checks VaeCluster's maths against PyTorch: one training step from the same seed.

Runs `vae train` for exactly one step (one global batch of the first --batch images), then repeats that
step in PyTorch with the same initial weights (torch.manual_seed), the same batch order and the same
reparameterisation noise, and compares the parameters after Adam. Prints JSON; exit 1 on mismatch.
Usage (from the repository root, after ./vae has set up): /usr/bin/python3 bench/check_against_pytorch.py
"""
import json, os, shutil, struct, subprocess, sys, tempfile
import numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'peers'))
from pytorch_vae import VAE, idx, loss_fn  # the peer's own model and loss

MASK = (1 << 64) - 1
def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)

def permutation(seed, epoch, count):  # EpochOrder.Permutation
    order = list(range(count)); state = mix((seed & MASK) ^ mix((epoch * 0x9E3779B97F4A7C15) & MASK))
    for i in range(count - 1, 0, -1):
        state = mix((state + 0x9E3779B97F4A7C15) & MASK); j = state % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order

def read_safetensors(path):
    raw = open(path, 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]; header = json.loads(raw[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == '__metadata__': continue
        b, e = t['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + b:8 + n + e], np.float32).reshape(t['shape']).copy())
    return out

def main():
    seed, batch, data = 1, 128, os.environ.get('VAE_MNIST_DIR', 'data/mnist')
    run = tempfile.mkdtemp(prefix='vae-check-')
    subprocess.run(['./vae', 'train', '--epochs', '1', '--train-limit', str(batch), '--batch-size', str(batch),
                    '--workers', '2', '--seed', str(seed), '--run', os.path.join(run, 'r')], check=True,
                   stdout=subprocess.DEVNULL)
    ours = read_safetensors(os.path.join(run, 'r', 'model.safetensors')); shutil.rmtree(run)

    torch.manual_seed(seed); model = VAE(); initial = {k: v.clone() for k, v in model.state_dict().items()}
    xtr = torch.from_numpy(idx(data + '/train-images-idx3-ubyte').reshape(-1, 784)[:batch].astype(np.float32) / 255)
    x = xtr[permutation(seed, 1, batch)]
    g = torch.Generator(); g.manual_seed(mix((seed * 31 + 0) & MASK))  # StepNoise.ForStep, global step 0
    eps = torch.randn(batch, 20, generator=g)
    h = torch.relu(model.fc1(x)); mu, logvar = model.fc21(h), model.fc22(h)
    r = torch.sigmoid(model.fc4(torch.relu(model.fc3(mu + eps * torch.exp(0.5 * logvar)))))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3); opt.zero_grad(); loss_fn(r, x, mu, logvar).backward(); opt.step()

    report = {}
    for name, p in model.state_dict().items():
        moved = (p - initial[name]).abs().max().item()
        report[name] = {'max_abs_diff': (ours[name] - p).abs().max().item(), 'max_step': moved}
    worst = max(v['max_abs_diff'] for v in report.values())
    print(json.dumps({'check': 'one-step-vs-pytorch', 'torch': torch.__version__, 'worst_max_abs_diff': worst,
                      'ok': worst < 1e-5, 'params': report}, indent=1))
    sys.exit(0 if worst < 1e-5 else 1)

main()
