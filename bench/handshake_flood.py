#!/usr/bin/env python3
"""Strangers on the data-plane port during a real cluster run: `./vae train --cluster --workers 2` trains for
--epochs epochs; for --attack-epochs of them (after --attack-after) 40 connections trickle a Hello one byte
every 2 s and 60 announce 8 MiB Hello headers, each reconnecting as soon as it is dropped, as a persistent
stranger would. The others are the undisturbed reference.

Reports steps/s per epoch (steps / the epoch's training seconds, from metrics.jsonl) undisturbed vs disturbed and
their ratio (want >= 0.8); the same from the ledger's wall clock over the attack and over an equal stretch just
before it; the coordinator's memory (/proc/PID/status VmRSS, VmHWM) at the attack's start and its growth by the
end (want < 50 MB), next to its growth over the undisturbed epochs before; what the strangers saw (connections,
how soon each was dropped) and how many refusal warnings the coordinator logged. Prints one JSON document.
Run from the repository root (speed figures need a quiet machine):
    python3 bench/handshake_flood.py --data data/mnist --epochs 8
"""
import argparse, glob, json, os, socket, statistics, struct, subprocess, tempfile, threading, time

MAGIC, VERSION, HELLO = 0x46454156, 2, 1  # FrameChannel.Magic, FrameChannel.Version, FrameKind.Hello

def prefix(kind, header_bytes, payload_bytes=0):
    return struct.pack('<IBBHiq', MAGIC, VERSION, kind, 0, header_bytes, payload_bytes)

def hello_frame():
    def text(s):
        b = s.encode(); return bytes([len(b)]) + b
    header = text('stranger') + text('0' * 32) + b'\x00' + text('')
    return prefix(HELLO, len(header)) + header

class Strangers:
    """Threads that keep `count` connections of one kind open against the port, reconnecting when dropped."""
    def __init__(self, port, count, kind):
        self.port, self.kind, self.stop = port, kind, threading.Event()
        self.connections, self.dropped_after_s, self.lock = 0, [], threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(count)]

    def start(self):
        for t in self.threads: t.start()

    def run(self):
        while not self.stop.is_set():
            try:
                s = socket.create_connection(('127.0.0.1', self.port), timeout=5)
            except OSError:
                time.sleep(0.5); continue
            opened = time.time()
            with self.lock: self.connections += 1
            try:
                dropped = self.trickle(s) if self.kind == 'trickle' else self.oversize(s)
            except OSError:
                dropped = True  # reset by the listener
            finally:
                s.close()
            if dropped:
                with self.lock: self.dropped_after_s.append(time.time() - opened)
            self.stop.wait(1.0)  # a pause before reconnecting: a stranger, not a connect flood

    def trickle(self, s):
        """Returns whether the listener dropped the connection (rather than the attack ending)."""
        frame, sent = hello_frame(), 0
        s.settimeout(2.0)
        while not self.stop.is_set():
            try:
                if s.recv(256) == b'': return True
            except socket.timeout:
                pass
            s.send(frame[sent % len(frame):sent % len(frame) + 1]); sent += 1
        return False

    def oversize(self, s):
        s.settimeout(1.0)
        s.recv(256)  # the Challenge
        s.send(prefix(HELLO, 8 << 20))  # ... and never the header
        while not self.stop.is_set():
            try:
                if s.recv(256) == b'': return True
            except socket.timeout:
                pass
        return False

    def finish(self):
        self.stop.set()
        for t in self.threads: t.join(timeout=10)
        d = sorted(self.dropped_after_s)
        return {'connections': self.connections, 'dropped_by_the_listener': len(d),
                'dropped_after_s_median': round(statistics.median(d), 3) if d else None,
                'dropped_after_s_max': round(d[-1], 3) if d else None}

def memory_mb(pid):
    got = {}
    for line in open(f'/proc/{pid}/status'):
        k, _, v = line.partition(':')
        if k in ('VmRSS', 'VmHWM'): got[k] = int(v.split()[0]) / 1024
    return got

def lines(path):
    try:
        return [json.loads(l) for l in open(path) if l.strip().endswith('}')]
    except FileNotFoundError:
        return []

def clef(run):
    return [json.loads(l) for f in glob.glob(os.path.join(run, 'logs', 'coordinator.clef')) for l in open(f) if l.strip()]

def wait_for(cond, timeout, proc):
    end = time.time() + timeout
    while time.time() < end:
        got = cond()
        if got: return got
        if proc.poll() is not None: raise SystemExit(f'the run ended early (exit {proc.returncode})')
        time.sleep(0.2)
    raise SystemExit('timed out')

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', default='data/mnist'); p.add_argument('--epochs', type=int, default=8)
    p.add_argument('--attack-after', type=int, default=3, help='epochs done before the strangers come')
    p.add_argument('--attack-epochs', type=int, default=2)
    p.add_argument('--tricklers', type=int, default=40); p.add_argument('--oversized', type=int, default=60)
    args = p.parse_args()
    assert args.attack_after >= 2 and args.attack_after + args.attack_epochs < args.epochs

    with tempfile.TemporaryDirectory(prefix='vae-flood-') as work:
        run = os.path.join(work, 'run')
        cmd = ['./vae', 'train', '--cluster', '--workers', '2', '--epochs', str(args.epochs), '--data', args.data, '--run', run]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # ./vae execs the coordinator
        metrics = os.path.join(run, 'metrics.jsonl'); ledger = os.path.join(run, 'ledger.jsonl')
        try:
            port = wait_for(lambda: next((e['DataPort'] for e in clef(run) if 'DataPort' in e), None), 300, proc)
            wait_for(lambda: len(lines(metrics)) >= 1, 600, proc)
            calm_start = (time.time(), len(lines(ledger)), memory_mb(proc.pid))
            wait_for(lambda: len(lines(metrics)) >= args.attack_after, 600, proc)

            before = (time.time(), len(lines(ledger)), memory_mb(proc.pid))
            refusals_before = sum(1 for e in clef(run) if e.get('@l') == 'Warning' and 'refused' in e['@mt'])
            gangs = {'trickle': Strangers(port, args.tricklers, 'trickle'), 'oversize': Strangers(port, args.oversized, 'oversize')}
            for g in gangs.values(): g.start()
            peak_rss = before[2]['VmRSS']
            while len(lines(metrics)) < args.attack_after + args.attack_epochs:
                if proc.poll() is not None: raise SystemExit(f'the run ended during the attack (exit {proc.returncode})')
                peak_rss = max(peak_rss, memory_mb(proc.pid)['VmRSS'])
                time.sleep(0.5)
            after = (time.time(), len(lines(ledger)), memory_mb(proc.pid))
            seen = {k: g.finish() for k, g in gangs.items()}
            code = proc.wait(timeout=900)
        finally:
            if proc.poll() is None: proc.kill()

        epochs = lines(metrics)
        steps = [e['step'] - (epochs[i - 1]['step'] if i else 0) for i, e in enumerate(epochs)]
        rate = [round(s / e['train_s'], 2) for s, e in zip(steps, epochs)]
        attacked = range(args.attack_after, args.attack_after + args.attack_epochs)  # 0-based epoch indices
        calm = [r for i, r in enumerate(rate) if i >= 1 and i not in attacked]  # epoch 1 warms up
        hit = [rate[i] for i in attacked]
        events = clef(run)
        refusals = [e for e in events if e.get('@l') == 'Warning' and 'refused' in e['@mt']]
        calm_wall = (before[1] - calm_start[1]) / (before[0] - calm_start[0])
        hit_wall = (after[1] - before[1]) / (after[0] - before[0])
        print(json.dumps({
            'benchmark': 'data-plane handshake flood during ./vae train --cluster --workers 2',
            'command': ' '.join(cmd[:-2]), 'exit_code': code, 'cores': os.cpu_count(),
            'strangers': {'trickling': args.tricklers, 'oversized_headers_8MiB': args.oversized, 'seen': seen},
            'steps_per_s_by_epoch': rate, 'attacked_epochs': [i + 1 for i in attacked],
            'undisturbed_steps_per_s': round(statistics.mean(calm), 2), 'disturbed_steps_per_s': round(statistics.mean(hit), 2),
            'ratio': round(statistics.mean(hit) / statistics.mean(calm), 3),
            'wall_clock_steps_per_s': {'before_attack': round(calm_wall, 2), 'during_attack': round(hit_wall, 2),
                                       'ratio': round(hit_wall / calm_wall, 3)},
            'coordinator_memory_mb': {
                'rss_at_attack_start': round(before[2]['VmRSS'], 1), 'rss_at_attack_end': round(after[2]['VmRSS'], 1),
                'rss_peak_during_attack': round(peak_rss, 1),
                'rss_growth_during_attack': round(peak_rss - before[2]['VmRSS'], 1),
                'hwm_growth_during_attack': round(after[2]['VmHWM'] - before[2]['VmHWM'], 1),
                'rss_growth_over_the_calm_epochs_before': round(before[2]['VmRSS'] - calm_start[2]['VmRSS'], 1)},
            'refusal_warnings': {'logged': len(refusals), 'logged_before_attack': refusals_before,
                                 'refusals_they_counted_quietly': sum(e.get('Quiet', 0) for e in refusals)},
        }, indent=1))

main()
