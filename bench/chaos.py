#!/usr/bin/env python3
"""Chaos benchmark: full --deterministic cluster runs (a coordinator and 3 workers on loopback, with a cluster
secret) under worker churn and strangers, against the same cluster undisturbed.

During each disturbed run a random worker is SIGKILLed every 4-7 s and replaced by a fresh one, and each time a
stranger (a node without the secret, or with another one) tries to join and is killed at the next round. Every
run must end with the undisturbed run's parameter digest and a ledger holding every step exactly once. Reports per
run: kills, strangers, shards reassigned, steps redone (ledger lines beyond one per step), wall time and the time
added against the undisturbed run. Prints one JSON document; exit 1 if a run breaks a promise.
Run from the repository root after `./vae train --help` has set the machine up:
    /usr/bin/python3 bench/chaos.py --runs 3 --epochs 2
"""
import argparse, json, os, random, re, signal, socket, subprocess, sys, tempfile, time

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def start(args, log):
    return subprocess.Popen(['./vae'] + args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

def ledger(run):
    try: return [json.loads(l) for l in open(os.path.join(run, 'ledger.jsonl')) if l.strip().endswith('}')]
    except FileNotFoundError: return []

def one_run(a, work, name, secret, other, chaos, rng):
    run, port, data_port = os.path.join(work, name), free_port(), free_port()
    out = open(os.path.join(work, name + '.out'), 'w+')
    common = ['--deterministic', '--epochs', str(a.epochs), '--checkpoint-every', '100', '--data', a.data]
    began = time.time()
    coordinator = start(['coordinator', '--run', run, '--port', str(port), '--data-port', str(data_port), '--workers', '3',
                         '--secret-file', secret] + common, out)
    started = {}
    def worker(wname, extra):
        started[wname] = time.time()
        return start(['worker', '--seed', f'127.0.0.1:{port}', '--name', wname, '--data', a.data,
                      '--log-dir', os.path.join(run, 'logs'), '--console-level', 'warning'] + extra, subprocess.DEVNULL)
    workers = [worker(f'w{i}', ['--secret-file', secret]) for i in (1, 2, 3)]
    names = {p: f'w{i}' for i, p in zip((1, 2, 3), workers)}
    everyone, kills, strangers, stranger = list(workers), 0, 0, None
    next_kill = time.time() + rng.uniform(4, 7)
    while coordinator.poll() is None:
        time.sleep(0.2)  # fine-grained, so the wall time is the run's, not the schedule's
        if not chaos or time.time() < next_kill or not ledger(run): continue
        next_kill = time.time() + rng.uniform(4, 7)
        victim = rng.choice(workers)
        victim.send_signal(signal.SIGKILL); workers.remove(victim); kills += 1
        workers.append(worker(f'w{3 + kills}', ['--secret-file', secret])); everyone.append(workers[-1]); names[workers[-1]] = f'w{3 + kills}'
        if stranger: stranger.send_signal(signal.SIGKILL)
        strangers += 1
        stranger = worker(f'stranger{strangers}', [] if strangers % 2 == 0 else ['--secret-file', other]); everyone.append(stranger)
        names[stranger] = f'stranger{strangers}'
    wall = time.time() - began
    if stranger: stranger.send_signal(signal.SIGKILL)
    # A process still running a minute after the coordinator ended is killed and named, with how long before the end
    # it was started (a worker started after the coordinator's last step finds no coordinator and waits for one).
    ended, left = time.time(), []
    for p in everyone:
        try: p.wait(timeout=max(1, 60 - (time.time() - ended)))
        except subprocess.TimeoutExpired:
            left.append({'name': names[p], 'started_s_before_end': round(began + wall - started[names[p]], 1)}); p.kill()
    out.seek(0); text = out.read()
    digest = re.search(r'parameters sha256 ([0-9a-f]{64})', text)
    entries = ledger(run)
    steps = [e['step'] for e in entries]
    return {'run': name, 'exit_code': coordinator.returncode, 'digest': digest.group(1) if digest else None,
            'wall_s': round(wall, 1), 'kills': kills, 'strangers': strangers,
            'shards_reassigned': sum(len(e['reassigned']) for e in entries),
            'steps_redone': len(steps) - len(set(steps)), 'steps': len(set(steps)),
            'every_step_once': steps == list(range(len(steps))) and not any(e['skipped'] for e in entries),
            'processes_left_running': len(left), 'left_running': left}

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--runs', type=int, default=3); p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--data', default='data/mnist'); p.add_argument('--seed', type=int, default=11)
    a = p.parse_args()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory(prefix='vae-chaos-') as work:
        secret, other = os.path.join(work, 'cluster.secret'), os.path.join(work, 'other.secret')
        open(secret, 'w').write('correct horse battery staple\n'); open(other, 'w').write('Tr0ub4dor&3 is not the secret\n')
        calm = one_run(a, work, 'undisturbed', secret, other, chaos=False, rng=rng)
        runs = [one_run(a, work, f'chaos{i + 1}', secret, other, chaos=True, rng=rng) for i in range(a.runs)]
    for r in runs: r['time_added_s'] = round(r['wall_s'] - calm['wall_s'], 1)
    ok = all(r['exit_code'] == 0 and r['digest'] == calm['digest'] and r['every_step_once'] and r['processes_left_running'] == 0
             for r in [calm] + runs)
    print(json.dumps({'epochs': a.epochs, 'workers': 3, 'undisturbed': calm, 'disturbed': runs,
                      'all_runs_match_the_undisturbed_digest': ok,
                      'total': {k: sum(r[k] for r in runs) for k in ('kills', 'strangers', 'shards_reassigned', 'steps_redone')}}, indent=2))
    sys.exit(0 if ok else 1)

if __name__ == '__main__':
    main()
