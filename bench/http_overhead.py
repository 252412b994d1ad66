#!/usr/bin/env python3
"""What the dashboard and /metrics cost training (issue 14: less than 1% of samples/s).

Runs `vae train` (single-process mode, defaults otherwise) in two arms, alternating their order each round:
  off: --http off
  on:  --http 127.0.0.1:0, with clients attached during every other window of --window seconds (1 s): one page's
       live feed (/events, Server-Sent Events, as a browser holds it) and a scraper reading /metrics and
       /api/status every --scrape-every seconds (default 1 s, 15 times Prometheus' default rate).
Attaching and detaching the clients every few seconds within one process compares watched with unwatched stretches
of the same run side by side, free of the spread between processes (about 10% on this shared machine, far more than
the 1% to be shown) and of drift within a run. The training rate of each stretch comes from the coordinator's
progress events (--log-every 10: the global step and a timestamp every 10 steps, RUN_DIR/logs/coordinator.clef),
counting only intervals wholly inside a stretch, within one epoch, and starting --settle seconds after a switch.
The `off` arm adds the comparison between processes: a server that nobody reads against no server.
The run watcher and TensorBoard's files run in both arms (they do not depend on --http).

Prints one JSON document. Run from the repository root after `./vae train --help` has built and set the machine
up, on a quiet machine:
    /usr/bin/python3 bench/http_overhead.py --rounds 5 --epochs 8
"""
import argparse, datetime, glob, http.client, json, os, re, socket, statistics, subprocess, tempfile, threading, time, urllib.parse, urllib.request

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
        self.url, self.every, self.counts, self.stop, self.threads, self.feed_socket = url, every, {'events': 0, 'scrapes': 0}, None, [], None
        self.latency_ms, self.bytes = {'metrics': [], 'api/status': []}, {'events': [], 'metrics': [], 'api/status': []}

    def attach(self):
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=f, args=(self.stop,), daemon=True) for f in (self.feed, self.scrape)]
        for t in self.threads: t.start()

    def detach(self):
        if self.stop is None: return
        self.stop.set()
        if self.feed_socket is not None:  # ends the feed's blocking read at once
            try: self.feed_socket.shutdown(socket.SHUT_RDWR)
            except OSError: pass
        for t in self.threads: t.join(timeout=5)
        self.stop = None

    def feed(self, stop):
        where = urllib.parse.urlsplit(self.url)
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
        try:
            connection.request('GET', '/events')
            self.feed_socket = connection.sock
            response = connection.getresponse()
            while not stop.is_set():
                line = response.fp.readline()
                if not line: return
                if line.startswith(b'data: '): self.counts['events'] += 1; self.bytes['events'].append(len(line))
        except (OSError, http.client.HTTPException): return  # detached, or the run has ended
        finally:
            self.feed_socket = None
            connection.close()

    def scrape(self, stop):
        while not stop.wait(self.every):
            for path in ('metrics', 'api/status'):
                try:
                    began = time.perf_counter()
                    body = urllib.request.urlopen(self.url + path, timeout=10).read(); self.counts['scrapes'] += 1
                    self.latency_ms[path].append(1000 * (time.perf_counter() - began)); self.bytes[path].append(len(body))
                except OSError: return

def progress(run):
    """(time, epoch, global step) of each progress event of the coordinator."""
    points = []
    for path in glob.glob(os.path.join(run, 'logs', 'coordinator*.clef')):
        for line in open(path):
            e = json.loads(line)
            if e.get('@mt', '').startswith('Epoch {Epoch} step {StepInEpoch}'):
                t = datetime.datetime.fromisoformat(e['@t'][:26].rstrip('Z')).replace(tzinfo=datetime.timezone.utc).timestamp()
                points.append((t, e['Epoch'], e['StepInEpoch']))
    return sorted(points)

def stretch_rates(points, stretches, settle):
    """Steps/s of each stretch (start, end, watched) from the progress intervals wholly inside it."""
    rates = []
    for start, end, watched in stretches:
        steps = seconds = 0.0
        for (t0, e0, s0), (t1, e1, s1) in zip(points, points[1:]):
            if e0 == e1 and t0 >= start + settle and t1 <= end:
                steps += s1 - s0; seconds += t1 - t0
        rates.append((watched, steps / seconds if seconds > 0 else None))
    return rates

def train(args, run, http):
    """One run; with http, clients attach and detach every --window seconds once training has started."""
    cmd = ['dotnet', CLI, 'train', '--epochs', str(args.epochs), '--data', args.data, '--run', run, '--http', http, '--log-every', '10']
    clients, stretches, done = None, [], threading.Event()
    def toggle(first_watched):
        watched, start = first_watched, time.time()
        if watched: clients.attach()
        while not done.wait(args.window):
            now = time.time()
            stretches.append((start, now, watched))
            if watched: clients.detach()
            else: clients.attach()
            watched, start = not watched, now
        stretches.append((start, time.time(), watched))  # the last one, cut short by the run's end
        if watched: clients.detach()
    started = time.time()
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment())
    toggler = None
    try:
        for line in process.stdout:
            if (m := re.search(r'Dashboard at (http://\S+/)', line)) and http != 'off':
                clients = Clients(m.group(1), args.scrape_every)
            if clients and toggler is None and 'Epoch 1 done' in line:  # after the warm-up epoch
                toggler = threading.Thread(target=toggle, args=(len(os.path.basename(run)) % 2 == 0,), daemon=True)
                toggler.start()
        if process.wait(timeout=args.timeout) != 0: raise RuntimeError(f'{" ".join(cmd)} failed')
    finally:
        done.set()
        if toggler: toggler.join(timeout=10)
        if process.poll() is None: process.kill(); process.wait(timeout=30)
    epochs = [json.loads(l) for l in open(os.path.join(run, 'metrics.jsonl')) if '"epoch"' in l and '"event"' not in l]
    rate = {e['epoch']: e['samples_per_s'] for e in epochs if e['epoch'] > 1}
    result = {'samples_per_s': rate, 'mean': statistics.mean(rate.values()), 'wall_s': round(time.time() - started, 1)}
    if clients:
        rates = stretch_rates(progress(run), stretches, args.settle)
        # Each watched stretch against the mean of its unwatched neighbours: a drift within the run cancels.
        costs = []
        for i, (watched, r) in enumerate(rates):
            neighbours = [rates[j][1] for j in (i - 1, i + 1) if 0 <= j < len(rates) and rates[j][1]]
            if watched and r and neighbours: costs.append(100 * (1 - r / statistics.mean(neighbours)))
        result.update(events_received=clients.counts['events'], scrapes=clients.counts['scrapes'], stretches=len(rates),
                      # What a request costs the server at most: the whole round trip on loopback, answer included.
                      request_ms_median={k: round(statistics.median(v), 2) for k, v in clients.latency_ms.items() if v},
                      answer_bytes_median={k: round(statistics.median(v)) for k, v in clients.bytes.items() if v},
                      watched_steps_per_s=statistics.mean(r for w, r in rates if w and r),
                      unwatched_steps_per_s=statistics.mean(r for w, r in rates if not w and r),
                      stretch_costs_pct=[round(c, 2) for c in costs])
    return result

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--epochs', type=int, default=8)
    p.add_argument('--window', type=float, default=1.0, help='seconds of each watched or unwatched stretch')
    p.add_argument('--settle', type=float, default=0.2, help='seconds after a switch left out of a stretch')
    p.add_argument('--data', default='data/mnist'); p.add_argument('--scrape-every', type=float, default=1.0)
    p.add_argument('--timeout', type=int, default=1800)
    args = p.parse_args()
    runs = {'off': [], 'on': []}
    with tempfile.TemporaryDirectory(prefix='vae-bench-http-') as work:
        for r in range(args.rounds):
            order = ['off', 'on'] if r % 2 == 0 else ['on', 'off']  # who goes first alternates
            for arm in order:
                runs[arm].append(train(args, os.path.join(work, f'{arm}-{r}'), 'off' if arm == 'off' else '127.0.0.1:0'))
    costs = [c for x in runs['on'] for c in x['stretch_costs_pct']]
    per_run = [statistics.median(x['stretch_costs_pct']) for x in runs['on']]
    off, on = (statistics.median(x['mean'] for x in runs[a]) for a in ('off', 'on'))
    report = {'benchmark': 'dashboard and /metrics overhead (issue 14)', 'epochs': args.epochs, 'rounds': args.rounds,
              'cores': os.cpu_count(), 'scrape_every_s': args.scrape_every, 'window_s': args.window,
              'clients_cost_pct_same_process': {'median_of_stretches': round(statistics.median(costs), 2),
                                                'mean_of_stretches': round(statistics.mean(costs), 2),
                                                'stretches': len(costs),
                                                'median_per_run': [round(c, 2) for c in per_run]},
              'request_ms_median': {k: statistics.median(x['request_ms_median'][k] for x in runs['on']) for k in ('metrics', 'api/status')},
              'answer_bytes_median': {k: statistics.median(x['answer_bytes_median'][k] for x in runs['on']) for k in ('events', 'metrics', 'api/status')},
              'median_samples_per_s_between_processes': {'off': round(off, 1), 'on': round(on, 1)},
              'on_vs_off_pct_between_processes': round(100 * (1 - on / off), 2),
              'runs': runs}
    print(json.dumps(report, indent=1))

main()
