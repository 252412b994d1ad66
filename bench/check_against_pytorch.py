#!/usr/bin/env python3
"""Cross-checks VaeCluster against PyTorch: a short run, step for step, from the same seed.

VaeCluster draws its random stream as the PyTorch reference does (initial weights, then per epoch
randperm, one randn per step and the test-set noise), so `vae train --seed S` and the reference's own
training loop with torch.manual_seed(S) see the same weights, batches and noise. This runs both for
--epochs epochs on the first --train-limit training images (2 workers on our side, so the batch is
sharded) and compares the parameters at the end and the losses of every epoch. Prints JSON; exit 1 on
a mismatch. Usage (repository root, after ./vae has set up): /usr/bin/python3 bench/check_against_pytorch.py
"""
import argparse, json, os, shutil, struct, subprocess, sys, tempfile
import numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'peers'))
from pytorch_vae import VAE, idx, loss_fn  # the peer's own model and loss
from safetensors_io import read_safetensors

def reference(seed, epochs, batch, xtr, xte):
    """The loop of pytorch_vae.py, on the given data."""
    torch.manual_seed(seed); m = VAE(); opt = torch.optim.Adam(m.parameters(), lr=1e-3); losses = []
    for _ in range(epochs):
        m.train(); tot = 0.0; perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), batch):
            x = xtr[perm[i:i + batch]]
            opt.zero_grad(); r, mu, lv = m(x); l = loss_fn(r, x, mu, lv); l.backward(); opt.step(); tot += l.item()
        m.eval(); te = 0.0
        with torch.no_grad():
            for i in range(0, len(xte), 1000):
                x = xte[i:i + 1000]; r, mu, lv = m(x); te += loss_fn(r, x, mu, lv).item()
        losses.append({'train_loss': tot / len(xtr), 'test_loss': te / len(xte)})
    return m.state_dict(), losses


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--seed', type=int, default=1); p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--train-limit', type=int, default=2560); p.add_argument('--batch-size', type=int, default=128)
    a = p.parse_args()
    data = os.environ.get('VAE_MNIST_DIR', 'data/mnist')
    run = tempfile.mkdtemp(prefix='vae-check-')
    subprocess.run(['./vae', 'train', '--epochs', str(a.epochs), '--train-limit', str(a.train_limit),
                    '--batch-size', str(a.batch_size), '--workers', '2', '--seed', str(a.seed),
                    '--run', os.path.join(run, 'r')], check=True, stdout=subprocess.DEVNULL)
    ours = read_safetensors(os.path.join(run, 'r', 'model.safetensors'))
    our_losses = [json.loads(l) for l in open(os.path.join(run, 'r', 'metrics.jsonl')) if '"event"' not in l]
    shutil.rmtree(run)

    torch.set_num_threads(1)
    xtr = torch.from_numpy(idx(data + '/train-images-idx3-ubyte').reshape(-1, 784)[:a.train_limit].astype(np.float32) / 255)
    xte = torch.from_numpy(idx(data + '/t10k-images-idx3-ubyte').reshape(-1, 784).astype(np.float32) / 255)
    theirs, their_losses = reference(a.seed, a.epochs, a.batch_size, xtr, xte)

    params = {name: (ours[name] - t).abs().max().item() for name, t in theirs.items()}
    epochs = [{'epoch': i + 1, 'ours': {k: o[k] for k in ('train_loss', 'test_loss')},
               'pytorch': {k: round(v, 4) for k, v in t.items()}} for i, (o, t) in enumerate(zip(our_losses, their_losses))]
    worst_param = max(params.values())
    worst_loss = max(abs(e['ours'][k] - e['pytorch'][k]) for e in epochs for k in ('train_loss', 'test_loss'))
    # Float rounding differs (2 shards summed vs one batch), so allow what that accumulates over the run.
    ok = worst_param < 1e-4 and worst_loss < 0.01
    print(json.dumps({'check': 'run-vs-pytorch', 'torch': torch.__version__, 'seed': a.seed, 'epochs': a.epochs,
                      'steps_per_epoch': -(-a.train_limit // a.batch_size), 'worst_param_abs_diff': worst_param,
                      'worst_loss_abs_diff': round(worst_loss, 5), 'ok': ok, 'per_epoch': epochs, 'params': params},
                     indent=1))
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
