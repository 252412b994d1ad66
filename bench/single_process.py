#!/usr/bin/env python3
"""Side-by-side benchmark: `./vae train` (single-process mode, defaults) against the PyTorch peer
(`pytorch_vae.py --threads 1`), same data and epochs, alternating A B / B A in each round on one machine.

Reports per run the best epoch's samples/s (of --epochs) and peak RSS (GNU time), then the ratio
ours/peer per round. Prints one JSON document. Run from the repository root after `./vae train --help`
has set the machine up; needs python3-torch (apt-get install -y python3-torch libopenblas0-pthread).
    /usr/bin/python3 bench/single_process.py --rounds 3 --epochs 3
"""
import argparse, json, os, statistics, subprocess, tempfile

def timed(cmd, env=None):
    """Runs cmd under GNU time; returns (stdout, peak RSS in MB, wall seconds)."""
    with tempfile.NamedTemporaryFile('r', suffix='.time') as t:
        out = subprocess.run(['/usr/bin/time', '-f', '%M %e', '-o', t.name] + cmd, check=True, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env).stdout
        rss_kb, wall = t.read().split()[-2:]
    return out, int(rss_kb) / 1024, float(wall)

def peer(args):
    out, rss, wall = timed(['/usr/bin/python3', os.path.join(args.peers, 'pytorch_vae.py'), '--data', args.data,
                            '--epochs', str(args.epochs), '--threads', '1'])
    epochs = [json.loads(l) for l in out.splitlines() if l.startswith('{')]
    return summary('pytorch_vae.py --threads 1', epochs, rss, wall)

def ours(args, workdir, n):
    run = os.path.join(workdir, f'run{n}')
    _, rss, wall = timed(['./vae', 'train', '--epochs', str(args.epochs), '--data', args.data, '--run', run])
    epochs = [json.loads(l) for l in open(os.path.join(run, 'metrics.jsonl'))]
    return summary('./vae train (defaults)', epochs, rss, wall)

def summary(name, epochs, rss, wall):
    return {'command': name, 'samples_per_s': [e['samples_per_s'] for e in epochs],
            'best_samples_per_s': max(e['samples_per_s'] for e in epochs),
            'test_loss': [e['test_loss'] for e in epochs], 'peak_rss_mb': round(rss), 'wall_s': wall}

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--rounds', type=int, default=3); p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--data', default='data/mnist'); p.add_argument('--peers', default='../shared/peers')
    args = p.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix='vae-bench-') as work:
        for r in range(args.rounds):
            # Alternate who goes first, so a drifting machine does not favour either side.
            a, b = (peer(args), ours(args, work, r)) if r % 2 == 0 else reversed((ours(args, work, r), peer(args)))
            rounds.append({'peer': a, 'ours': b, 'ratio_best_samples_per_s': round(b['best_samples_per_s'] / a['best_samples_per_s'], 3)})
    ratios = [r['ratio_best_samples_per_s'] for r in rounds]
    print(json.dumps({
        'benchmark': 'single-process vs pytorch_vae.py --threads 1', 'epochs': args.epochs, 'cores': os.cpu_count(),
        'median_ratio_best_samples_per_s': statistics.median(ratios), 'ratios': ratios,
        'ours_peak_rss_mb_max': max(r['ours']['peak_rss_mb'] for r in rounds),
        'peer_peak_rss_mb_max': max(r['peer']['peak_rss_mb'] for r in rounds),
        'rounds': rounds}, indent=1))

if __name__ == '__main__':
    main()
