#!/usr/bin/env python3
"""Side-by-side benchmark of cluster mode: `./vae train --cluster --workers 2` (a coordinator process and two
worker processes on loopback) against PyTorch DDP over gloo with 2 ranks x 1 thread (the distributed peer's
fastest setting here) and against our own single-process mode, same data and epochs, in one run, the order
rotated every round so a drifting machine favours no one.

Reports per contender the best epoch's samples/s, per round the ratios, how long the cluster took from launch
to its first step, how each data-plane round trip splits into worker compute and tensor transfer, and peak
memory per process (ours: each node logs its own; the peer: GNU time's largest process). Prints one JSON document.
Run from the repository root after `./vae train --help` has set the machine up; needs python3-torch:
    /usr/bin/python3 bench/cluster.py --rounds 3 --epochs 3
"""
import argparse, datetime, glob, json, os, statistics, subprocess, tempfile, time

def timed(cmd, env=None, cwd=None):
    """Runs cmd under GNU time; returns (stdout, peak RSS in MB of its largest process, wall seconds)."""
    with tempfile.NamedTemporaryFile('r', suffix='.time') as t:
        out = subprocess.run(['/usr/bin/time', '-f', '%M %e', '-o', t.name] + cmd, check=True, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd).stdout
        rss_kb, wall = t.read().split()[-2:]
    return out, int(rss_kb) / 1024, float(wall)

def ddp(args, _work, _n):
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1')
    out, rss, wall = timed(['/usr/bin/python3', 'pytorch_ddp_vae.py', '--data', os.path.abspath(args.data),
                            '--epochs', str(args.epochs), '--world', '2', '--threads', '1'], env=env, cwd=args.peers)
    epochs = [json.loads(l) for l in out.splitlines() if l.startswith('{')]
    return summary('OPENBLAS_NUM_THREADS=1 pytorch_ddp_vae.py --world 2 --threads 1', epochs, wall, {'largest_process': round(rss)})

def single(args, work, n):
    run = os.path.join(work, f'single{n}')
    _, rss, wall = timed(['./vae', 'train', '--epochs', str(args.epochs), '--data', args.data, '--run', run])
    return summary('./vae train', metrics(run), wall, {'process': round(rss)})

def cluster(args, work, n):
    run = os.path.join(work, f'cluster{n}')
    launched = time.time()
    _, _, wall = timed(['./vae', 'train', '--cluster', '--workers', '2', '--epochs', str(args.epochs), '--data', args.data, '--run', run])
    events = clef(run)
    started = next(e for e in events if e['@mt'].startswith('{Workers} workers registered'))
    links = [e for e in events if e['@mt'].startswith('Data plane to worker')]
    s = summary('./vae train --cluster --workers 2', metrics(run), wall,
                {e.get('Worker', e['Role']): e['PeakMemoryMb'] for e in events if 'PeakMemoryMb' in e})
    # ./vae's own set-up check and build check come first; the cluster's clock starts at the coordinator's first line.
    first = min(stamp(e) for e in events if e['Role'] == 'coordinator')
    s['cluster_start_s'] = {'from_launch': round(stamp(started) - launched, 2), 'from_coordinator_start': round(stamp(started) - first, 2)}
    s['data_plane'] = [{k: e[k] for k in ('Worker', 'Shards', 'RoundTripMs', 'ComputeMs', 'TransferMs', 'Megabytes')} for e in links]
    return s

def metrics(run):
    return [json.loads(l) for l in open(os.path.join(run, 'metrics.jsonl')) if '"epoch"' in l]

def clef(run):
    events = [json.loads(l) for f in glob.glob(os.path.join(run, 'logs', '*.clef')) for l in open(f) if l.strip()]
    return sorted(events, key=stamp)

def stamp(e):
    return datetime.datetime.fromisoformat(e['@t'].replace('Z', '+00:00')).timestamp()

def summary(name, epochs, wall, memory):
    return {'command': name, 'samples_per_s': [e['samples_per_s'] for e in epochs],
            'best_samples_per_s': max(e['samples_per_s'] for e in epochs),
            'test_loss': [e['test_loss'] for e in epochs], 'peak_rss_mb': memory, 'wall_s': wall}

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--rounds', type=int, default=3); p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--data', default='data/mnist'); p.add_argument('--peers', default='../shared/peers')
    args = p.parse_args()
    contenders = [('ddp', ddp), ('cluster', cluster), ('single', single)]
    rounds = []
    with tempfile.TemporaryDirectory(prefix='vae-bench-') as work:
        for r in range(args.rounds):
            order = contenders[r % 3:] + contenders[:r % 3]
            got = {name: run(args, work, r) for name, run in order}
            best = {k: v['best_samples_per_s'] for k, v in got.items()}
            rounds.append(dict(got, order=[n for n, _ in order],
                               cluster_vs_ddp=round(best['cluster'] / best['ddp'], 3),
                               cluster_vs_single=round(best['cluster'] / best['single'], 3)))
    transfer = [d['TransferMs'] / d['RoundTripMs'] for r in rounds for d in r['cluster']['data_plane']]
    print(json.dumps({
        'benchmark': 'cluster mode (2 worker processes) vs PyTorch DDP gloo 2x1 and vs our single-process mode',
        'epochs': args.epochs, 'cores': os.cpu_count(),
        'median_cluster_vs_ddp': statistics.median(r['cluster_vs_ddp'] for r in rounds),
        'median_cluster_vs_single': statistics.median(r['cluster_vs_single'] for r in rounds),
        'median_transfer_share_of_round_trip': round(statistics.median(transfer), 3),
        'max_cluster_start_from_coordinator_start_s': max(r['cluster']['cluster_start_s']['from_coordinator_start'] for r in rounds),
        'rounds': rounds}, indent=1))

main()
