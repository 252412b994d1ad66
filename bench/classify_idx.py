#!/usr/bin/env python3
"""Independent judges of generated digits: PyTorch classifiers that never saw VaeCluster's code.

Two judges of different architectures, trained separately: --judge cnn (default; two conv layers, 3 epochs) and
--judge mlp (784-512-256-10 with dropout, 5 epochs, no convolution). Each trains on the raw MNIST IDX files (once;
the weights are cached, keyed by the recipe and the data files' SHA-256), reports its own accuracy on the MNIST
test set, then classifies IDX files written by `./vae generate --idx PREFIX` and reports the share recognised as
the digit requested, per digit and overall. Prints a table and one JSON line; exit 1 when --min-overall /
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
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class Mlp(nn.Module):
    """The second judge: no convolution, so it reads the strokes differently from the CNN."""
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.fc2 = nn.Linear(512, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        x = F.dropout(F.relu(self.fc1(x.flatten(1))), 0.2, self.training)
        x = F.dropout(F.relu(self.fc2(x)), 0.2, self.training)
        return self.fc3(x)


# judge: (network, epochs, recipe; the recipe names the cache file, so a changed recipe trains anew)
JUDGES = {'cnn': (Net, 3, 'cnn32-64-fc128/epochs3/adam1e-3/batch128/seed0'),
          'mlp': (Mlp, 5, 'mlp512-256-drop0.2/epochs5/adam1e-3/batch128/seed0')}


def data_key(data, recipe):
    h = hashlib.sha256(recipe.encode())
    for name in ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'):
        h.update(open(os.path.join(data, name), 'rb').read())
    return h.hexdigest()[:16]


def predict(net, x):
    net.eval()
    with torch.no_grad():
        return torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])


def trained(judge, data, cache):
    network, epochs, recipe = JUDGES[judge]
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
        print(f'classifier: no cached classifier for these data files; training one (a minute or two)', file=sys.stderr)
    torch.manual_seed(0)
    x = images(os.path.join(data, 'train-images-idx3-ubyte'))
    y = torch.from_numpy(read_idx(os.path.join(data, 'train-labels-idx1-ubyte')).astype(np.int64))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    start = time.time()
    for epoch in range(epochs):
        net.train()
        for idx in torch.randperm(len(x)).split(128):
            opt.zero_grad()
            F.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    os.makedirs(cache, exist_ok=True)
    tmp = f'{path}.tmp-{os.getpid()}'
    torch.save(net.state_dict(), tmp)
    os.replace(tmp, path)  # atomic: a crash never leaves half a cache file under the real name
    print(f'classifier: trained in {time.time() - start:.0f} s, cached at {path}', file=sys.stderr)
    return net


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', default=os.environ.get('VAE_MNIST_DIR', os.path.join(ROOT, 'data', 'mnist')),
                    help='folder with the four raw MNIST IDX files')
    ap.add_argument('--idx', required=True, help='PREFIX given to ./vae generate --idx')
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
    test_acc = (predict(net, tx) == ty).float().mean().item()

    gx = images(a.idx + '-images-idx3-ubyte')
    gy = torch.from_numpy(read_idx(a.idx + '-labels-idx1-ubyte').astype(np.int64))
    if len(gx) != len(gy):
        sys.exit(f'{len(gx)} images but {len(gy)} labels')
    hit = predict(net, gx) == gy
    per = {d: (hit[gy == d].float().mean().item(), int((gy == d).sum())) for d in range(10) if (gy == d).any()}
    overall = hit.float().mean().item()

    print(f'independent classifier (PyTorch {a.judge.upper()}): {test_acc:.2%} on the MNIST test set')
    print('digit  asked  recognised')
    for d, (share, n) in per.items():
        print(f'{d:>5}  {n:>5}  {share:>9.1%}')
    print(f'  all  {len(gy):>5}  {overall:>9.1%}')
    print(json.dumps({'classifier': f'pytorch-{a.judge}', 'classifier_test_accuracy': round(test_acc, 4),
                      'images': len(gy), 'recognised': round(overall, 4),
                      'recognised_by_digit': {str(d): round(s, 4) for d, (s, _) in per.items()}}))
    ok = (a.min_overall is None or overall >= a.min_overall) and \
         (a.min_digit is None or min(s for s, _ in per.values()) >= a.min_digit)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
