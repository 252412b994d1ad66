#!/usr/bin/env python3
"""What the dashboard and /metrics cost training (issue 14: less than 1% of samples/s).

Runs `vae train` (single-process mode, defaults otherwise) in two arms, alternating their order each round:
  off: --http off
  on:  --http 127.0.0.1:0, with clients attached during every other epoch: one page's live feed (/events,
       Server-Sent Events, as a browser holds it) and a scraper reading /metrics and /api/status every
       --scrape-every seconds (default 1 s, 15 times Prometheus' default rate).
Attaching clients to every other epoch of the same process compares watched with unwatched epochs side by side,
free of the spread between processes (about 10% on this shared machine, far more than the 1% to be shown). Which
epochs are watched alternates between rounds (even epochs in one, odd in the next), so a trend over a run favours
neither. The `off` arm adds the comparison between processes: a server that nobody reads against no server.
The run watcher and TensorBoard's files run in both arms (they do not depend on --http).

Figures are samples/s per epoch from metrics.jsonl (training only, evaluation excluded); epoch 1 (JIT, warm-up)
is left out. Prints one JSON document. Run from the repository root after `./vae train --help` has built and set
the machine up, on a quiet machine:
    /usr/bin/python3 bench/http_overhead.py --rounds 5 --epochs 9
"""
import argparse, json, os, re, statistics, subprocess, tempfile, threading, time, urllib.request

CLI = 'src/Coordinator/bin/Release/net10.0/vae.dll'
TCMALLOC = '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4'

def environment():
    """What ./vae sets for training (see runtime_env in ./vae)."""
    env = dict(os.environ, DOTNET_gcServer='0', DOTNET_TieredPGO='1')
    if os.path.exists(TCMALLOC): env['LD_PRELOAD'] = TCMALLOC
    return env

class Clients:
    """A page's live feed and a scraper, from attach() until detach()."""
    def __init__(self, url, every):
        self.url, self.every, self.counts, self.stop, self.threads = url, every, {'events': 0, 'scrapes': 0}, None, []

    def attach(self):
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=f, args=(self.stop,), daemon=True) for f in (self.feed, self.scrape)]
        for t in self.threads: t.start()

    def detach(self):
        if self.stop is None: return
        self.stop.set()
        for t in self.threads: t.join(timeout=5)  # the feed notices at its next event, within a second
        self.stop = None

    def feed(self, stop):
        try:
            with urllib.request.urlopen(self.url + 'events', timeout=30) as events:
                for line in events:
                    if line.startswith(b'data: '): self.counts['events'] += 1
                    if stop.is_set(): return
        except OSError: return  # the run has ended

    def scrape(self, stop):
        while not stop.wait(self.every):
            for path in ('metrics', 'api/status'):
                try:
                    urllib.request.urlopen(self.url + path, timeout=10).read(); self.counts['scrapes'] += 1
                except OSError: return

def train(args, run, http, watch_parity):
    """One run; with http, clients watch the epochs whose number has the given parity (epoch 1 never)."""
    cmd = ['dotnet', CLI, 'train', '--epochs', str(args.epochs), '--data', args.data, '--run', run, '--http', http]
    clients, watched = None, []
    started = time.time()
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment())
    try:
        for line in process.stdout:
            if (m := re.search(r'Dashboard at (http://\S+/)', line)) and http != 'off':
                clients = Clients(m.group(1), args.scrape_every)
            if (m := re.search(r'Epoch (\d+) done', line)) and clients:
                following = int(m.group(1)) + 1
                clients.detach()
                if following % 2 == watch_parity and following <= args.epochs:
                    clients.attach(); watched.append(following)
        if process.wait(timeout=args.timeout) != 0: raise RuntimeError(f'{" ".join(cmd)} failed')
    finally:
        if clients: clients.detach()
        if process.poll() is None: process.kill(); process.wait(timeout=30)
    epochs = [json.loads(l) for l in open(os.path.join(run, 'metrics.jsonl')) if '"epoch"' in l and '"event"' not in l]
    rate = {e['epoch']: e['samples_per_s'] for e in epochs if e['epoch'] > 1}
    result = {'samples_per_s': rate, 'wall_s': round(time.time() - started, 1)}
    if clients:
        result.update(watched_epochs=watched, events_received=clients.counts['events'], scrapes=clients.counts['scrapes'],
                      watched=statistics.mean(rate[e] for e in watched),
                      unwatched=statistics.mean(r for e, r in rate.items() if e not in watched))
    else:
        result['mean'] = statistics.mean(rate.values())
    return result

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--epochs', type=int, default=9, help='odd: as many watched as unwatched epochs after the first')
    p.add_argument('--data', default='data/mnist'); p.add_argument('--scrape-every', type=float, default=1.0)
    p.add_argument('--timeout', type=int, default=1800)
    args = p.parse_args()
    runs = {'off': [], 'on': []}
    with tempfile.TemporaryDirectory(prefix='vae-bench-http-') as work:
        for r in range(args.rounds):
            order = ['off', 'on'] if r % 2 == 0 else ['on', 'off']  # who goes first alternates too
            for arm in order:
                runs[arm].append(train(args, os.path.join(work, f'{arm}-{r}'), 'off' if arm == 'off' else '127.0.0.1:0', r % 2))
    client_cost = [100 * (1 - x['watched'] / x['unwatched']) for x in runs['on']]
    off, unwatched, watched = (statistics.median(v) for v in (
        [x['mean'] for x in runs['off']], [x['unwatched'] for x in runs['on']], [x['watched'] for x in runs['on']]))
    report = {'benchmark': 'dashboard and /metrics overhead (issue 14)', 'epochs': args.epochs, 'rounds': args.rounds,
              'cores': os.cpu_count(), 'scrape_every_s': args.scrape_every,
              'clients_cost_pct_same_process': {'median': round(statistics.median(client_cost), 2),
                                                'per_run': [round(c, 2) for c in client_cost]},
              'median_samples_per_s': {'off': round(off, 1), 'on_unwatched': round(unwatched, 1), 'on_watched': round(watched, 1)},
              'server_unwatched_cost_pct_between_processes': round(100 * (1 - unwatched / off), 2),
              'on_watched_vs_off_pct_between_processes': round(100 * (1 - watched / off), 2),
              'runs': runs}
    print(json.dumps(report, indent=1))

main()
