#!/usr/bin/env python3
"""What the dashboard and /metrics cost training (issue 14: less than 1% of samples/s).

Runs `vae train` (single-process mode, defaults otherwise) in two arms, alternating their order each round:
  off: --http off
  on:  --http 127.0.0.1:0 with clients attached the whole time: one page's live feed (/events, Server-Sent
       Events, as a browser holds it) and a scraper reading /metrics every --scrape-every seconds (default 1 s,
       15 times Prometheus' default rate) and /api/status as often.
The run watcher and TensorBoard's files run in both arms (they do not depend on --http); to see their cost as
well, give --baseline DLL: a vae.dll built from a commit before them (e.g. `git worktree add /tmp/base <commit>`
and `dotnet build -c Release` there), run as a third arm without --http.

Figures are samples/s per epoch from metrics.jsonl (training only, evaluation excluded); a run's figure is the
mean of its epochs after the first (the first one includes JIT and warm-up). Prints one JSON document.
Run from the repository root after `./vae train --help` has built and set the machine up, on a quiet machine:
    /usr/bin/python3 bench/http_overhead.py --rounds 5 --epochs 4
"""
import argparse, json, os, re, statistics, subprocess, tempfile, threading, time, urllib.request

CLI = 'src/Coordinator/bin/Release/net10.0/vae.dll'
TCMALLOC = '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4'

def environment():
    """What ./vae sets for training (see runtime_env in ./vae)."""
    env = dict(os.environ, DOTNET_gcServer='0', DOTNET_TieredPGO='1')
    if os.path.exists(TCMALLOC): env['LD_PRELOAD'] = TCMALLOC
    return env

def clients(url, stop, every, counts):
    """A page's live feed and a scraper, until stop is set."""
    def feed():
        with urllib.request.urlopen(url + 'events', timeout=30) as events:
            for line in events:
                if line.startswith(b'data: '): counts['events'] += 1
                if stop.is_set(): return
    def scrape():
        while not stop.wait(every):
            for path in ('metrics', 'api/status'):
                try:
                    urllib.request.urlopen(url + path, timeout=10).read(); counts['scrapes'] += 1
                except OSError: return  # the run has ended
    threads = [threading.Thread(target=f, daemon=True) for f in (feed, scrape)]
    for t in threads: t.start()
    return threads

def train(dll, args, run, http, every):
    cmd = ['dotnet', dll, 'train', '--epochs', str(args.epochs), '--data', args.data, '--run', run] + (['--http', http] if http else [])
    counts, stop = {'events': 0, 'scrapes': 0}, threading.Event()
    started = time.time()
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment())
    try:
        for line in process.stdout:
            m = re.search(r'Dashboard at (http://\S+/)', line)
            if m and http != 'off': clients(m.group(1), stop, every, counts)
        if process.wait(timeout=args.timeout) != 0: raise RuntimeError(f'{" ".join(cmd)} failed')
    finally:
        stop.set()
        if process.poll() is None: process.kill(); process.wait(timeout=30)
    epochs = [json.loads(l) for l in open(os.path.join(run, 'metrics.jsonl')) if '"epoch"' in l and '"event"' not in l]
    rates = [e['samples_per_s'] for e in epochs]
    return {'samples_per_s': rates, 'mean_after_first': statistics.mean(rates[1:] or rates),
            'wall_s': round(time.time() - started, 1), **({'events_received': counts['events'], 'scrapes': counts['scrapes']} if http not in (None, 'off') else {})}

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--rounds', type=int, default=5); p.add_argument('--epochs', type=int, default=4)
    p.add_argument('--data', default='data/mnist'); p.add_argument('--scrape-every', type=float, default=1.0)
    p.add_argument('--baseline', help='a vae.dll from before the run watcher, run as a third arm')
    p.add_argument('--timeout', type=int, default=1800)
    args = p.parse_args()
    arms = {'off': lambda run: train(CLI, args, run, 'off', 0), 'on': lambda run: train(CLI, args, run, '127.0.0.1:0', args.scrape_every)}
    if args.baseline: arms['baseline'] = lambda run: train(args.baseline, args, run, None, 0)
    results = {name: [] for name in arms}
    with tempfile.TemporaryDirectory(prefix='vae-bench-http-') as work:
        for r in range(args.rounds):
            # Rotate who goes first, so a drifting machine favours no arm.
            order = list(arms)[r % len(arms):] + list(arms)[:r % len(arms)]
            for name in order: results[name].append(arms[name](os.path.join(work, f'{name}-{r}')))
    median = {name: statistics.median(x['mean_after_first'] for x in runs) for name, runs in results.items()}
    report = {'benchmark': 'dashboard and /metrics overhead (issue 14)', 'epochs': args.epochs, 'rounds': args.rounds,
              'cores': os.cpu_count(), 'scrape_every_s': args.scrape_every,
              'median_samples_per_s': {k: round(v, 1) for k, v in median.items()},
              'overhead_pct_on_vs_off': round(100 * (1 - median['on'] / median['off']), 2)}
    if args.baseline: report['overhead_pct_on_vs_baseline'] = round(100 * (1 - median['on'] / median['baseline']), 2)
    report['runs'] = results
    print(json.dumps(report, indent=1))

main()
