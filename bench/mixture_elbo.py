#!/usr/bin/env python3
"""The mixture model's test ELBO of log p(x), without labels, from RUN_DIR/model.safetensors alone (PyTorch).

Follows the formula of docs/MIXTURE_MODEL.md: the reference network (fc1..fc4) and
p(z) = sum_k 1/K N(z; prior.means[k], diag(exp(prior.logvars[k]))); ELBO = E_q[log p(x|z) + log p(z) - log q(z|x)],
estimated with --samples draws of z per test image. Prints one JSON line (nats per image).
Usage (repository root): /usr/bin/python3 bench/mixture_elbo.py --run /tmp/mix10 --data data/mnist
"""
import argparse, json, math, os, struct
import numpy as np, torch, torch.nn.functional as F
from safetensors_io import read_safetensors


def idx(path):
    raw = open(path, 'rb').read(); rank = raw[3]; dims = struct.unpack('>' + 'I' * rank, raw[4:4 + 4 * rank])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * rank).reshape(dims)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--run', required=True); ap.add_argument('--data', default=os.environ.get('VAE_MNIST_DIR', 'data/mnist'))
    ap.add_argument('--samples', type=int, default=10); ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    w = read_safetensors(os.path.join(a.run, 'model.safetensors'))
    x = torch.from_numpy(idx(os.path.join(a.data, 't10k-images-idx3-ubyte')).reshape(-1, 784).astype(np.float32) / 255)
    lin = lambda name, v: v @ w[name + '.weight'].T + w[name + '.bias']
    m, v = w['prior.means'], w['prior.logvars']
    torch.manual_seed(a.seed)
    total = 0.0
    with torch.no_grad():
        for chunk in x.split(1000):
            h = F.relu(lin('fc1', chunk)); mu, lv = lin('fc21', h), lin('fc22', h)
            for _ in range(a.samples):
                eps = torch.randn_like(mu); z = mu + torch.exp(0.5 * lv) * eps
                recon_logits = lin('fc4', F.relu(lin('fc3', z)))
                log_px = -F.binary_cross_entropy(torch.sigmoid(recon_logits), chunk, reduction='none').sum(1)
                log_q = (-0.5 * (math.log(2 * math.pi) + lv + eps ** 2)).sum(1)
                comp = (-0.5 * (math.log(2 * math.pi) + v[None] + (z[:, None] - m[None]) ** 2 / v.exp()[None])).sum(2)
                log_p = torch.logsumexp(comp, 1) - math.log(len(m))
                total += (log_px + log_p - log_q).sum().item() / a.samples
    print(json.dumps({'run': a.run, 'components': len(m), 'samples': a.samples,
                      'test_elbo': round(total / len(x), 3)}))


main()
