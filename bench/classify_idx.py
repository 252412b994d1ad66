#!/usr/bin/env python3
"""Independent judges of generated digits: PyTorch classifiers that never saw VaeCluster's code.

Two judges of different architectures, trained separately, each the standard careful way for MNIST (dropout,
random rotation / scale / shift of every training batch, Adam with the learning rate cosine-annealed to zero, seeded):
--judge cnn (default; two conv layers with batch norm, 12 epochs) and --judge mlp (784-800-800-10, 20 epochs, no
convolution). Each trains on the raw MNIST train IDX files only (once; the weights are cached, keyed by the recipe
and the data files' SHA-256), reports its own accuracy on the MNIST test set, overall and per digit (the yardstick:
a judge that misreads real 9s misreads generated ones too), then classifies IDX files written by
`./vae generate --idx PREFIX` and reports the share recognised as the digit requested, per digit and overall.
Without --idx it reports only the test set. Prints a table and one JSON line; exit 1 when --min-overall /
--min-digit are given and not met. Neither judge is used in training.
Usage (repository root): /usr/bin/python3 bench/classify_idx.py --data data/mnist --idx /tmp/mix10/gen [--judge mlp]
"""
import argparse, hashlib, json, os, struct, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))


def read_idx(path):
    raw = open(path, 'rb').read()
    if raw[:2] != b'\0\0' or raw[2] != 0x08:
        sys.exit(f'{path}: not an unsigned-byte IDX file')
    rank = raw[3]
    dims = struct.unpack('>' + 'I' * rank, raw[4:4 + 4 * rank])
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(dims)):
        sys.exit(f'{path}: {data.size} bytes of data, header says {dims}')
    return data.reshape(dims)


def images(path):  # [n, 1, 28, 28] float in [0, 1]
    return torch.from_numpy(read_idx(path).astype(np.float32) / 255.0).unsqueeze(1)


class Net(nn.Module):
    """The first judge: a small CNN (two conv blocks with batch norm, dropout before and in the classifier)."""
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.dropout(x.flatten(1), 0.25, self.training)
        return self.fc2(F.dropout(F.relu(self.fc1(x)), 0.5, self.training))


class Mlp(nn.Module):
    """The second judge: no convolution, so it reads the strokes differently from the CNN."""
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 800)
        self.fc2 = nn.Linear(800, 800)
        self.fc3 = nn.Linear(800, 10)

    def forward(self, x):
        x = F.dropout(F.relu(self.fc1(x.flatten(1))), 0.3, self.training)
        x = F.dropout(F.relu(self.fc2(x)), 0.3, self.training)
        return self.fc3(x)


# judge: (network, epochs, learning rate, recipe). The recipe names the cache file, so a changed recipe trains anew. Both: Adam,
# the learning rate cosine-annealed to zero over the run, each training batch randomly rotated / scaled / shifted
# (the standard MNIST augmentation: a judge that saw only centred digits misreads slightly shifted real ones).
JUDGES = {'cnn': (Net, 12, 2e-3, 'cnn32bn-64bn-fc256-drop.25/.5/epochs12/adam2e-3-cosine/batch128/'
                           'affine-rot10-scale.1-shift2/seed0'),
          'mlp': (Mlp, 20, 1e-3, 'mlp800-800-drop0.3/epochs20/adam1e-3-cosine/batch128/affine-rot10-scale.1-shift2/seed0')}


def data_key(data, recipe):
    h = hashlib.sha256(recipe.encode())
    for name in ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'):
        h.update(open(os.path.join(data, name), 'rb').read())
    return h.hexdigest()[:16]


def predict(net, x):
    net.eval()
    with torch.no_grad():
        return torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])


def augment(x):
    """Each image rotated by up to 10 degrees, scaled by 0.9-1.1 and shifted by up to 2 pixels, at random."""
    n = len(x)
    angle = (torch.rand(n) * 2 - 1) * (10 * np.pi / 180)
    scale = 1 + (torch.rand(n) * 2 - 1) * 0.1
    shift = (torch.rand(n, 2) * 2 - 1) * (2 / 14)  # affine_grid's coordinates run from -1 to 1 over 28 pixels
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode='zeros')


def trained(judge, data, cache):
    network, epochs, lr, recipe = JUDGES[judge]
    path = os.path.join(cache, f'mnist-{judge}-{data_key(data, recipe)}.pt')
    net = network()
    if os.path.exists(path):
        try:
            net.load_state_dict(torch.load(path))
            print(f'classifier: loaded {path}', file=sys.stderr)
            return net
        except Exception as e:  # a damaged cache is rebuilt, never trusted
            print(f'classifier: {path} is unusable ({e}); training a new one', file=sys.stderr)
    else:
        print(f'classifier: no cached {judge} for these data files; training one ({epochs} epochs, a few minutes)',
              file=sys.stderr)
    torch.manual_seed(0)
    x = images(os.path.join(data, 'train-images-idx3-ubyte'))
    y = torch.from_numpy(read_idx(os.path.join(data, 'train-labels-idx1-ubyte')).astype(np.int64))
    opt = torch.optim.Adam(net.parameters(), lr)
    steps = epochs * ((len(x) + 127) // 128)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    start = time.time()
    for epoch in range(epochs):
        net.train()
        for idx in torch.randperm(len(x)).split(128):
            opt.zero_grad()
            F.cross_entropy(net(augment(x[idx])), y[idx]).backward()
            opt.step()
            sched.step()
        print(f'classifier: epoch {epoch + 1}/{epochs} done, {time.time() - start:.0f} s', file=sys.stderr)
    os.makedirs(cache, exist_ok=True)
    tmp = f'{path}.tmp-{os.getpid()}'
    torch.save(net.state_dict(), tmp)
    os.replace(tmp, path)  # atomic: a crash never leaves half a cache file under the real name
    print(f'classifier: trained in {time.time() - start:.0f} s, cached at {path}', file=sys.stderr)
    return net


def by_digit(hit, y):
    return {d: (hit[y == d].float().mean().item(), int((y == d).sum())) for d in range(10) if (y == d).any()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', default=os.environ.get('VAE_MNIST_DIR', os.path.join(ROOT, 'data', 'mnist')),
                    help='folder with the four raw MNIST IDX files')
    ap.add_argument('--idx', help='PREFIX given to ./vae generate --idx (without it: only the test set figures)')
    ap.add_argument('--cache', default=os.path.join(ROOT, 'data', 'pytorch-classifier'),
                    help='where the trained weights are cached (git-ignored)')
    ap.add_argument('--judge', choices=sorted(JUDGES), default='cnn', help='which classifier judges (default cnn)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--min-overall', type=float)
    ap.add_argument('--min-digit', type=float)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    net = trained(a.judge, a.data, a.cache)
    tx = images(os.path.join(a.data, 't10k-images-idx3-ubyte'))
    ty = torch.from_numpy(read_idx(os.path.join(a.data, 't10k-labels-idx1-ubyte')).astype(np.int64))
    test_hit = predict(net, tx) == ty
    test_per, test_acc = by_digit(test_hit, ty), test_hit.float().mean().item()
    report = {'classifier': f'pytorch-{a.judge}', 'recipe': JUDGES[a.judge][3],
              'classifier_test_accuracy': round(test_acc, 4),
              'classifier_test_accuracy_by_digit': {str(d): round(s, 4) for d, (s, _) in test_per.items()}}
    print(f'independent classifier (PyTorch {a.judge.upper()}): {test_acc:.2%} on the MNIST test set')
    if a.idx is None:  # only the yardstick: how the judge reads real test digits
        print('digit   real  read right')
        for d, (share, n) in test_per.items():
            print(f'{d:>5}  {n:>5}  {share:>10.2%}')
        print(json.dumps(report))
        return 0

    gx = images(a.idx + '-images-idx3-ubyte')
    gy = torch.from_numpy(read_idx(a.idx + '-labels-idx1-ubyte').astype(np.int64))
    if len(gx) != len(gy):
        sys.exit(f'{len(gx)} images but {len(gy)} labels')
    hit = predict(net, gx) == gy
    per, overall = by_digit(hit, gy), hit.float().mean().item()

    # Real test digits next to the generated ones: the judge's own error rate on a digit is the yardstick.
    print('digit  asked  recognised   real test digits read right')
    for d, (share, n) in per.items():
        print(f'{d:>5}  {n:>5}  {share:>9.1%}   {test_per[d][0]:>10.2%}')
    print(f'  all  {len(gy):>5}  {overall:>9.1%}   {test_acc:>10.2%}')
    report.update({'images': len(gy), 'recognised': round(overall, 4),
                   'recognised_by_digit': {str(d): round(s, 4) for d, (s, _) in per.items()}})
    print(json.dumps(report))
    ok = (a.min_overall is None or overall >= a.min_overall) and \
         (a.min_digit is None or min(s for s, _ in per.values()) >= a.min_digit)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
