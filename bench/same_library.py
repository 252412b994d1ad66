#!/usr/bin/env python3
"""Side-by-side benchmark within one library (issue 17): `./vae train` against a bare TorchSharp loop of our own
(bench/BareLoop: the same model, Adam, batch 128, 2 intra-op threads, tcmalloc, tiered JIT off; what a TorchSharp
user writes first), with the PyTorch peer (`pytorch_vae.py --threads 1`) alongside, in --rounds rounds whose order
rotates, so a drifting machine favours nobody. `./vae train` runs once per --precisions entry (bf16 only where the
CPU has native bf16). Before and after the rounds, `bare-loop limit` measures the machine's matrix product rate in
fp32 and bf16 (a --limit-size square product); dividing by the model's 3.9 MFLOP per trained sample gives the
compute limit, and each contender's median is given as a fraction of it.

Per run the figure is the best (or mean, --stat mean) epoch's training samples/s of --epochs; ratios are taken
within a round, medians across rounds. Prints one JSON document. Run from the repository root after
`./vae train --help` has set the machine up; the peer needs python3-torch (see bench/single_process.py).
    /usr/bin/python3 bench/same_library.py --rounds 5 --epochs 3
"""
import argparse, json, os, statistics, subprocess, tempfile
from single_process import timed, peer

TCMALLOC = '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4'
BARE_DLL = 'bench/BareLoop/bin/Release/net10.0/bare-loop.dll'

def bare_env():
    env = dict(os.environ)
    if os.path.exists(TCMALLOC): env['LD_PRELOAD'] = TCMALLOC
    return env

def bare(args):
    out, rss, wall = timed(['dotnet', BARE_DLL, 'train', '--data', args.data, '--epochs', str(args.epochs),
                            '--threads', str(args.bare_threads)],
                           env=bare_env())
    return [json.loads(l) for l in out.splitlines() if l.startswith('{')], rss, wall

def ours(args, workdir, name, precision):
    run = os.path.join(workdir, name)
    _, rss, wall = timed(['./vae', 'train', '--epochs', str(args.epochs), '--data', args.data, '--run', run,
                          '--precision', precision, '--http', 'off'])
    return [json.loads(l) for l in open(os.path.join(run, 'metrics.jsonl'))], rss, wall

def figure(args, epochs, rss, wall):
    return with_figure(args, {'samples_per_s': [e['samples_per_s'] for e in epochs],
                              'test_loss': [e['test_loss'] for e in epochs], 'peak_rss_mb': round(rss), 'wall_s': wall})

def with_figure(args, run):
    rates = run['samples_per_s']
    return dict(run, figure=max(rates) if args.stat == 'best' else statistics.mean(rates))

def limit(args):
    out = subprocess.run(['dotnet', BARE_DLL, 'limit', '--threads', str(os.cpu_count()), '--size', str(args.limit_size)], check=True,
                         text=True, stdout=subprocess.PIPE, env=bare_env()).stdout
    return json.loads(out.splitlines()[-1])

def native_bf16():
    flags = open('/proc/cpuinfo').read().split() if os.path.exists('/proc/cpuinfo') else []
    return 'avx512_bf16' in flags or 'amx_bf16' in flags

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--rounds', type=int, default=5); p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--stat', choices=['best', 'mean'], default='best')
    p.add_argument('--precisions', default='fp32,bf16' if native_bf16() else 'fp32')
    p.add_argument('--no-peer', action='store_true', help='leave out the PyTorch peer (no python3-torch here)')
    p.add_argument('--limit-size', type=int, default=2048)
    p.add_argument('--bare-threads', type=int, default=2, help="the bare loop's intra-op threads (the issue's: 2)")
    p.add_argument('--data', default='data/mnist'); p.add_argument('--peers', default='../shared/peers')
    args = p.parse_args()
    subprocess.run(['dotnet', 'build', 'bench/BareLoop', '-c', 'Release', '-v', 'q', '--nologo'], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(['./vae', 'train', '--help'], check=True, stdout=subprocess.DEVNULL)  # builds ours outside the timing
    precisions = args.precisions.split(',')
    limits = [limit(args)]
    contenders = {'bare': lambda work, r: figure(args, *bare(args))}
    for prec in precisions:
        contenders[f'ours_{prec}'] = lambda work, r, prec=prec: figure(args, *ours(args, work, f'{prec}-{r}', prec))
    if not args.no_peer:
        contenders['peer'] = lambda work, r: with_figure(args, peer(args))
    rounds = []
    with tempfile.TemporaryDirectory(prefix='vae-bench-') as work:
        for r in range(args.rounds):
            # Each round starts with the next contender and every other round runs backwards.
            order = list(contenders)[r % len(contenders):] + list(contenders)[:r % len(contenders)]
            if r % 2: order.reverse()
            results = {name: contenders[name](work, r) for name in order}
            ratios = {f'{o}_vs_{b}': round(results[o]['figure'] / results[b]['figure'], 3)
                      for o in results if o.startswith('ours') for b in ('bare', 'peer') if b in results}
            rounds.append({'order': order, 'ratios': ratios, 'runs': results})
    limits.append(limit(args))
    fp32_limit = statistics.mean(l['fp32_limit_samples_per_s'] for l in limits)
    bf16_limit = statistics.mean(l['bf16_limit_samples_per_s'] for l in limits)
    medians = {name: round(statistics.median(r['runs'][name]['figure'] for r in rounds)) for name in contenders}
    print(json.dumps({
        'benchmark': 'ours vs a bare TorchSharp loop (bench/BareLoop) and pytorch_vae.py --threads 1',
        'epochs': args.epochs, 'rounds': args.rounds, 'stat': f'{args.stat} epoch of {args.epochs}', 'cores': os.cpu_count(),
        'median_samples_per_s': medians,
        'median_ratios': {k: statistics.median(r['ratios'][k] for r in rounds) for k in rounds[0]['ratios']},
        'compute_limit': {'fp32_samples_per_s': round(fp32_limit), 'bf16_samples_per_s': round(bf16_limit), 'measured': limits},
        'fraction_of_fp32_limit': {n: round(m / fp32_limit, 3) for n, m in medians.items()},
        'fraction_of_bf16_limit': {n: round(m / bf16_limit, 3) for n, m in medians.items()},
        'peak_rss_mb_max': {n: max(r['runs'][n]['peak_rss_mb'] for r in rounds) for n in contenders},
        'rounds': rounds}, indent=1))

if __name__ == '__main__':
    main()
