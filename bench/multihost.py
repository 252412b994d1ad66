#!/usr/bin/env python3
"""Multi-machine benchmark on the network test bed (deploy/netlab.sh): a coordinator machine and two worker machines,
each a network namespace with its own hostname and /dev/shm (so tensors travel over TCP), their links limited by tc
tbf to each of --rates, side by side in one run with single-process mode (`vae.dll train`) and the loopback cluster
(`vae.dll train --cluster`), the order rotated every round so a drifting machine favours no one. Nodes start exactly
as a user starts them: `vae.dll coordinator --host A --public-host A ...`, `vae.dll worker --seed A:4053 --host B ...`.
With --wires fp32,bf16 each rate runs once per wire precision (`coordinator --wire W`), side by side in the same
round: `lab_<rate>` is fp32, `lab_<rate>_bf16` bf16.

Reports per run, and the median over rounds:
- samples/s: metrics.jsonl's samples_per_s (training time only, evaluation excluded), the median of epochs 2+
  (epoch 1 holds the JIT warm-up; with --epochs 1, epoch 1);
- per node and per step: bytes moved (to it and from it), and its round trip split into compute (as the node
  measured it), transfer (the rest of the round trip) and wait (for the step's other shards). From metrics.jsonl's
  `nodes` over epochs 2+ where the coordinator writes them; otherwise from the coordinator's end-of-run lines
  "Data plane to worker W: S shards, round trip R ms of which compute C ms and transfer T ms, M MB moved" (whole
  run, epoch 1 included), wait then being the mean step time less the round trip. Each run says which (`per_node_source`);
- the ratio of the measured step time (training seconds / steps, same window as the per-node figures) to a lower
  bound from the same run's per-node compute and bytes at the link rate. The coordinator's link carries every
  node's parameters (out) and gradients (in), so it is the busiest; tbf limits each direction apart, so the bound
  is the larger of: all parameters out of it, then one node's compute and gradient; one node's parameters and
  compute, then all gradients into it; one node's whole round trip on its own link. Also given, as `one_pipe_ms`:
  compute plus both directions' bytes as if through one pipe (the issue's count, about 84 ms at 1 Gbit/s), which
  a step can beat by sending one node's gradient while another's parameters are still going out. Bytes are what
  the transport counts (no TCP/IP headers). Loopback has no link limit: its bound is the slowest node's compute.
  Since parameters stream into the forward pass and go out one node at a time (docs/ARCHITECTURE.md), a node's
  compute figure includes waiting for them, and synchronous steps can beat this "lower bound".
- `overlap_bound_ms` / `step_vs_overlap_bound` (lab runs): the issue's bound with transfers overlapped with compute,
  the larger of the compute (the same round's single-process step compute: the lab's nodes share these cores) and
  the busier direction of the coordinator's link (every node's copy out, or every gradient in, at the link rate).

--sync-every H1,H2,... adds, for each rate, one lab contender per H above 1 (`lab_<rate>_sync<H>`): the same
coordinator with `--sync-every H` (rounds of H local steps per node, docs/ARCHITECTURE.md); its per-node bytes and
times are per step, averaged over the rounds (one exchange per round), and each contender reports the last epoch's
test loss too, for the quality table (test loss and samples/s per H).

Every lab is removed (netlab down) at the end, also on Ctrl-C, SIGTERM or an error; labs are owned by this process,
so `deploy/netlab.sh prune` removes them even after a SIGKILL. Needs root. Prints one JSON document. Run from the
repository root after `dotnet build src/Coordinator -c Release`:
    python3 bench/multihost.py --rounds 3 --epochs 3 --train-limit 6400
    python3 bench/multihost.py --rounds 3 --epochs 3 --train-limit 6400 --wires fp32,bf16
"""
import argparse, glob, itertools, json, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, 'src', 'Coordinator', 'bin', 'Release', 'net10.0', 'vae.dll')
NETLAB = os.path.join(ROOT, 'deploy', 'netlab.sh')
TCMALLOC = '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4'  # what ./vae preloads (scripts/setup.sh)
COORDINATOR_PORT = 4053
WORKER_MACHINES = (2, 3)  # machine 1 is the coordinator's
WIRES = ('fp32', 'bf16')  # what coordinator --wire takes
LAB_NUMBERS = itertools.count(1)

class Failed(Exception):
    """A run or a lab went wrong: one line for the user."""

def runtime_env():
    """The environment ./vae gives the CLI, so every contender runs as a user's `./vae` would."""
    env = dict(os.environ, DOTNET_gcServer='0', DOTNET_TieredPGO='1')
    if os.path.exists(TCMALLOC):
        env['LD_PRELOAD'] = TCMALLOC + (':' + env['LD_PRELOAD'] if env.get('LD_PRELOAD') else '')
    return env

def netlab(*args):
    done = subprocess.run([NETLAB, *args], text=True, capture_output=True, timeout=120)
    if done.returncode != 0:
        raise Failed(f'netlab.sh {" ".join(args)}: {(done.stderr or done.stdout).strip()}')
    return done.stdout

def rate_bits(rate):
    """A tc rate (10gbit, 1gbit, 100mbit; 125mbps is bytes per second in tc's units) in bits per second."""
    m = re.fullmatch(r'(\d+(?:\.\d+)?)([kmgt]?)(bit|bps)', rate.lower())
    if not m:
        raise Failed(f'--rates: {rate!r} is not a tc rate such as 10gbit or 100mbit')
    scale = {'': 1, 'k': 1e3, 'm': 1e6, 'g': 1e9, 't': 1e12}[m.group(2)]
    return float(m.group(1)) * scale * (8 if m.group(3) == 'bps' else 1)

def training_flags(args, run):
    return ['--epochs', str(args.epochs), '--train-limit', str(args.train_limit), '--data', args.data, '--run', run]

def timed(cmd, log, timeout):
    """Runs cmd to its end with its output in a file; returns wall seconds."""
    started = time.time()
    with open(log, 'w') as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=runtime_env(), timeout=timeout)
    if done.returncode != 0:
        raise Failed(f'vae.dll {cmd[2]} exited {done.returncode}; its output: {log}')
    return time.time() - started

def single(args, work, name, actors):
    run = os.path.join(work, name)
    cmd = ['dotnet', CLI, 'train', '--workers', str(actors)] + training_flags(args, run)
    wall = timed(cmd, run + '.out', args.timeout)
    return measure(f'vae.dll train --workers {actors}', run, wall, link_bits=None)

def loopback(args, work, name, actors):
    run = os.path.join(work, name)
    cmd = ['dotnet', CLI, 'train', '--cluster', '--workers', str(actors)] + training_flags(args, run)
    wall = timed(cmd, run + '.out', args.timeout)
    return measure(f'vae.dll train --cluster --workers {actors}', run, wall, link_bits=None)

def lab(args, work, name, actors, rate, labs, wire='fp32', sync_every=1):
    """A fresh lab per run: no process, port or shared memory of an earlier run is left in it."""
    run, lab_name = os.path.join(work, name), f'mh{os.getpid()}-{next(LAB_NUMBERS)}'
    labs.append(lab_name)
    netlab('up', lab_name, '3', '--rate', rate, '--owner', str(os.getpid()))
    host = netlab('addr', lab_name, '1').strip()
    started = time.time()
    rounds = ['--sync-every', str(sync_every)] if sync_every > 1 else []
    coordinator = start(lab_name, 1, ['coordinator', '--host', host, '--public-host', host, '--workers', str(actors),
                                      '--wire', wire] + training_flags(args, run) + rounds, run + '.coordinator.out')
    # A worker that tries before the seed listens waits out Akka's 5 s gate before it tries again.
    if not wait_for(lambda: 'Coordinator node up' in read(run + '.coordinator.out') or coordinator.poll() is not None, 60):
        raise Failed(f'the coordinator on {lab_name} did not come up in 60 s; its output: {run}.coordinator.out')
    workers = []
    for m in WORKER_MACHINES:
        address = netlab('addr', lab_name, str(m)).strip()
        pool = ['--workers', str(args.actors_per_node)] if args.actors_per_node > 1 else []
        workers.append(start(lab_name, m, ['worker', '--seed', f'{host}:{COORDINATOR_PORT}', '--host', address,
                                           '--public-host', address, '--name', f'w{m}', '--data', args.data,
                                           '--log-dir', os.path.join(work, f'{name}-node{m}-logs')] + pool,
                             f'{run}.node{m}.out'))
    try:
        code = coordinator.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        raise Failed(f'the coordinator on {lab_name} did not finish in {args.timeout} s; its output: {run}.coordinator.out')
    wall = time.time() - started
    if code != 0:
        raise Failed(f'the coordinator on {lab_name} exited {code}; its output: {run}.coordinator.out')
    for w in workers:  # they leave once training ends; whatever lingers goes with the lab
        try: w.wait(timeout=30)
        except subprocess.TimeoutExpired: pass
    netlab('down', lab_name)
    labs.remove(lab_name)
    per_node = f' --workers {args.actors_per_node}' if args.actors_per_node > 1 else ''
    return measure(f'coordinator --workers {actors} --wire {wire}{" " + " ".join(rounds) if rounds else ""} + 2 x worker{per_node}, links {rate}',
                   run, wall, link_bits=rate_bits(rate))

def read(path):
    with open(path) as f:
        return f.read()

def wait_for(condition, seconds):
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline: return False
        time.sleep(0.2)
    return True

def start(lab_name, machine, cli_args, log):
    with open(log, 'w') as out:
        return subprocess.Popen([NETLAB, 'exec', lab_name, str(machine), 'dotnet', CLI] + cli_args,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=runtime_env())

def measure(command, run, wall, link_bits):
    epochs = [json.loads(l) for l in open(os.path.join(run, 'metrics.jsonl')) if '"epoch"' in l and '"event"' not in l]
    if not epochs:
        raise Failed(f'{run}/metrics.jsonl has no epoch line')
    steps, before = [], 0
    for e in epochs:  # `step` is the global step count at the epoch's end
        steps.append(e['step'] - before); before = e['step']
    steady = list(range(1, len(epochs))) or [0]
    def step_ms(window):
        return 1000 * sum(epochs[i]['train_s'] for i in window) / sum(steps[i] for i in window)
    if all('nodes' in epochs[i] for i in steady):
        window = steady
        nodes = nodes_from_metrics([epochs[i]['nodes'] for i in window], sum(steps[i] for i in window))
        source = 'metrics.jsonl nodes, epochs 2+' if len(epochs) > 1 else 'metrics.jsonl nodes, epoch 1'
    else:
        window = range(len(epochs))
        nodes = nodes_from_log(run, sum(steps), step_ms(window))
        source = 'coordinator log "Data plane to worker" lines, whole run (epoch 1 included)' if nodes else None
    return {'command': command, 'samples_per_s': [e['samples_per_s'] for e in epochs], 'test_loss': epochs[-1]['test_loss'],
            'steady_samples_per_s': round(statistics.median(epochs[i]['samples_per_s'] for i in steady), 1),
            'step_ms': round(step_ms(steady), 2), 'steps': sum(steps), 'wall_s': round(wall, 1),
            'per_node_source': source, 'nodes': nodes, 'bound': bound(nodes, step_ms(window), link_bits)}

def nodes_from_metrics(epoch_nodes, steps):
    """Sums each node's epoch totals over the window, then per step."""
    total = {}
    for listing in epoch_nodes:
        for n in listing:
            t = total.setdefault(n['node'], dict(n, shards=0, bytes_sent=0, bytes_received=0, compute_ms=0, transfer_ms=0, wait_ms=0))
            for k in ('shards', 'bytes_sent', 'bytes_received', 'compute_ms', 'transfer_ms', 'wait_ms'):
                t[k] += n[k]
    return [{'node': t['node'], 'host': t['host'], 'workers': t['workers'], 'shards_per_step': round(t['shards'] / steps, 3),
             'bytes_to_node': round(t['bytes_sent'] / steps), 'bytes_from_node': round(t['bytes_received'] / steps),
             'mb_per_step': round((t['bytes_sent'] + t['bytes_received']) / steps / 1e6, 3),
             'compute_ms': round(t['compute_ms'] / steps, 2), 'transfer_ms': round(t['transfer_ms'] / steps, 2),
             'wait_ms': round(t['wait_ms'] / steps, 2)} for t in total.values()]

def nodes_from_log(run, steps, step_ms):
    """Per worker link, from the coordinator's end-of-run line: per-shard means, and megabytes in both directions."""
    events = [json.loads(l) for f in glob.glob(os.path.join(run, 'logs', '*.clef')) for l in open(f) if l.strip()]
    hosts = {e['Worker']: (str(e.get('Remote', '')).rsplit(':', 1)[0], e.get('Transport'))
             for e in events if e.get('@mt', '').startswith('Worker {Worker} connected its data plane')}
    links = [e for e in events if e.get('@mt', '').startswith('Data plane to worker') and 'Shards' in e]
    nodes = []  # none in single-process mode, whose actors share the coordinator's tensors
    for e in links:
        per_step = e['Shards'] / steps
        host, transport = hosts.get(e['Worker'], ('?', None))
        # One parameter copy out and one gradient back per shard, the same size: half the bytes each way.
        mb = e['Megabytes'] / steps
        nodes.append({'node': e['Worker'], 'host': host, 'transport': transport, 'workers': 1,
                      'shards_per_step': round(per_step, 3), 'bytes_to_node': round(mb * 1e6 / 2),
                      'bytes_from_node': round(mb * 1e6 / 2), 'mb_per_step': round(mb, 3),
                      'compute_ms': round(e['ComputeMs'] * per_step, 2), 'transfer_ms': round(e['TransferMs'] * per_step, 2),
                      'wait_ms': round(max(0.0, step_ms - e['RoundTripMs'] * per_step), 2)})
    return nodes

def bound(nodes, step_ms, link_bits):
    """The least a step can take on these links (ms), from the same run's per-node figures; None where nothing
    measured compute. Each link is full duplex (tbf limits each direction apart), and a node computes once all its
    parameters are in, so a step lasts at least: every parameter copy out of the coordinator's link, then the last
    node's compute and gradient (a); the first node's parameters and compute, then every gradient into the
    coordinator's link (b); any one node's parameters, compute and gradient over its own link (c)."""
    if max((n['compute_ms'] for n in nodes), default=0) <= 0:
        return None
    per_byte = 1000 * 8 / link_bits if link_bits else 0.0
    to = [n['bytes_to_node'] * per_byte for n in nodes]
    back = [n['bytes_from_node'] * per_byte for n in nodes]
    compute = [n['compute_ms'] for n in nodes]
    a = sum(to) + min(c + g for c, g in zip(compute, back))
    b = min(p + c for p, c in zip(to, compute)) + sum(back)
    c = max(p + c + g for p, c, g in zip(to, compute, back))
    lower = max(a, b, c)
    figures = {'step_ms': round(step_ms, 2), 'compute_ms': max(compute), 'lower_bound_ms': round(lower, 2),
               'step_vs_bound': round(step_ms / lower, 3)}
    if link_bits:
        # The count: the coordinator's link as one pipe for both directions (not a bound: steps beat it).
        one_pipe = max(compute) + sum(to) + sum(back)
        figures.update({'link': 'coordinator', 'link_bits': link_bits, 'link_bytes_per_step': sum(n['bytes_to_node'] + n['bytes_from_node'] for n in nodes),
                        'one_pipe_ms': round(one_pipe, 2), 'step_vs_one_pipe': round(step_ms / one_pipe, 3)})
    return figures

def add_overlap_bounds(got):
    """The issue's bound with overlap, per lab run of a round: the larger of the compute and the busier direction of
    the coordinator's link (each node's copy out, or each gradient in, at the link rate), the compute being the same
    round's single-process step compute (the lab's nodes share this machine's cores, so together they have the same
    work to do on them; a node's own compute figure includes waiting for parameters that stream in)."""
    compute = got['single']['bound']['compute_ms'] if got.get('single', {}).get('bound') else None
    for name, r in got.items():
        b = r.get('bound') if isinstance(r, dict) else None
        if not name.startswith('lab_') or not b or 'link_bits' not in b or compute is None:
            continue
        per_byte = 1000 * 8 / b['link_bits']
        out = sum(n['bytes_to_node'] for n in r['nodes']) * per_byte
        back = sum(n['bytes_from_node'] for n in r['nodes']) * per_byte
        overlap = max(compute, out, back)
        b.update({'overlap_bound_ms': round(overlap, 2), 'step_vs_overlap_bound': round(b['step_ms'] / overlap, 3)})

def median_of(runs):
    m = {'samples_per_s': round(statistics.median(r['steady_samples_per_s'] for r in runs), 1),
         'test_loss': statistics.median(r['test_loss'] for r in runs),
         'step_ms': statistics.median(r['step_ms'] for r in runs)}
    if all(r['bound'] for r in runs):
        m['lower_bound_ms'] = statistics.median(r['bound']['lower_bound_ms'] for r in runs)
        m['step_vs_bound'] = statistics.median(r['bound']['step_vs_bound'] for r in runs)
        if all('one_pipe_ms' in r['bound'] for r in runs):
            m['step_vs_one_pipe'] = statistics.median(r['bound']['step_vs_one_pipe'] for r in runs)
        if all('overlap_bound_ms' in r['bound'] for r in runs):
            m['overlap_bound_ms'] = statistics.median(r['bound']['overlap_bound_ms'] for r in runs)
            m['step_vs_overlap_bound'] = statistics.median(r['bound']['step_vs_overlap_bound'] for r in runs)
    if all(r['nodes'] for r in runs):
        m['max_node_mb_per_step'] = statistics.median(max(n['mb_per_step'] for n in r['nodes']) for r in runs)
        m['node_bytes_per_step'] = round(statistics.median(statistics.mean(n['bytes_to_node'] + n['bytes_from_node'] for n in r['nodes']) for r in runs))
        m['node_split_ms'] = {k: round(statistics.median(statistics.mean(n[k] for n in r['nodes']) for r in runs), 2)
                              for k in ('compute_ms', 'transfer_ms', 'wait_ms')}
    return m

def check(args):
    if os.geteuid() != 0:
        raise Failed('needs root for the network test bed (network namespaces): run it with sudo')
    if not os.path.exists(CLI):
        raise Failed(f'{CLI} is missing: build first with dotnet build src/Coordinator -c Release')
    if not os.path.exists(os.path.join(args.data, 'train-images-idx3-ubyte')) and not os.path.exists(os.path.join(args.data, 'train-images-idx3-ubyte.gz')):
        raise Failed(f'--data {args.data}: no MNIST IDX files there (./vae train --help fetches them into data/mnist)')
    netlab('check')
    if any(w != 'fp32' for w in args.wires):
        help_text = subprocess.run(['dotnet', CLI, 'coordinator', '--help'], text=True, capture_output=True, env=runtime_env()).stdout
        if '--wire' not in help_text:
            raise Failed('--wires bf16 needs a coordinator that takes --wire; this build has none')
    if args.actors_per_node > 1:
        help_text = subprocess.run(['dotnet', CLI, 'worker', '--help'], text=True, capture_output=True, env=runtime_env()).stdout
        if '--workers' not in help_text:
            raise Failed('--actors-per-node > 1 needs a worker node that hosts a pool (vae.dll worker --workers K); this build has none')

def main():
    p = argparse.ArgumentParser(description='Coordinator + 2 worker machines on deploy/netlab.sh, against single-process mode and the loopback cluster.')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--epochs', type=int, default=3, help='epochs per run (epoch 1 is the warm-up; figures from epochs 2+)')
    p.add_argument('--train-limit', type=int, default=6400, help='training images per epoch (6400: 50 steps of 128)')
    p.add_argument('--rates', default='10gbit,1gbit', help='link rates, tc units, one lab run per rate per round')
    p.add_argument('--wires', default='fp32', help=f'coordinator --wire for the lab runs, one lab run per rate and wire per round ({",".join(WIRES)})')
    p.add_argument('--actors-per-node', type=int, default=1, help='worker actors per worker machine (K > 1: worker --workers K)')
    p.add_argument('--sync-every', default='1', help='comma list of --sync-every values for the lab runs (1: synchronous), e.g. 1,4,16,64')
    p.add_argument('--data', default=os.environ.get('VAE_MNIST_DIR') or os.path.join(ROOT, 'data', 'mnist'))
    p.add_argument('--timeout', type=int, default=600, help='seconds one run may take')
    p.add_argument('--keep', action='store_true', help='keep the run directories and every node\'s output (said on stderr)')
    args = p.parse_args()
    args.data = os.path.abspath(args.data)
    rates = [r.strip() for r in args.rates.split(',') if r.strip()]
    for r in rates: rate_bits(r)
    args.wires = [w.strip() for w in args.wires.split(',') if w.strip()]
    if not args.wires or any(w not in WIRES for w in args.wires):
        raise Failed(f'--wires: expected a comma-separated list of {" and ".join(WIRES)}, got {",".join(args.wires) or "nothing"}')
    try:
        syncs = [int(h) for h in args.sync_every.split(',') if h.strip()]
    except ValueError:
        raise Failed(f'--sync-every: {args.sync_every!r} is not a comma list of whole numbers such as 1,4,16')
    if not syncs or any(h < 1 for h in syncs):
        raise Failed('--sync-every takes whole numbers from 1, such as 1,4,16,64')
    if args.rounds < 1 or args.epochs < 1 or args.train_limit < 1 or args.actors_per_node < 1:
        raise Failed('--rounds, --epochs, --train-limit and --actors-per-node take whole numbers from 1')
    check(args)
    actors = len(WORKER_MACHINES) * args.actors_per_node
    contenders = [('single', lambda w, n, labs: single(args, w, n, actors)),
                  ('loopback', lambda w, n, labs: loopback(args, w, n, actors))]
    contenders += [(f'lab_{r}' + (f'_sync{h}' if h > 1 else '') + ('' if wire == 'fp32' else f'_{wire}'),
                    lambda w, n, labs, r=r, wire=wire, h=h: lab(args, w, n, actors, r, labs, wire, h))
                   for r in rates for h in syncs for wire in args.wires]
    labs, rounds = [], []
    netlab('prune')
    work = tempfile.mkdtemp(prefix='vae-multihost-')
    try:
        for i in range(args.rounds):
            k = i % len(contenders)
            order = contenders[k:] + contenders[:k]
            got = {name: run(work, f'{name}-{i}', labs) for name, run in order}
            add_overlap_bounds(got)
            rounds.append(dict(got, order=[name for name, _ in order]))
            print(f'round {i + 1}/{args.rounds}: ' + ', '.join(f'{n} {g["steady_samples_per_s"]:.0f} samples/s' for n, g in got.items()), file=sys.stderr)
    finally:
        for name in labs:
            subprocess.run([NETLAB, 'down', name], capture_output=True)
        if len(rounds) == args.rounds and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f'multihost: run directories and node output kept in {work}', file=sys.stderr)
    medians = {name: median_of([r[name] for r in rounds]) for name, _ in contenders}
    print(json.dumps({
        'benchmark': 'coordinator + 2 worker machines (deploy/netlab.sh, tc tbf links) vs single-process mode and the loopback cluster',
        'epochs': args.epochs, 'train_limit': args.train_limit, 'actors_per_node': args.actors_per_node,
        'worker_actors': actors, 'rates': rates, 'wires': args.wires, 'sync_every': syncs, 'cores': os.cpu_count(),
        'samples_per_s_from': 'metrics.jsonl samples_per_s, median of epochs 2+ of a run, then median of rounds',
        'median': medians,
        'vs_single': {name: round(m['samples_per_s'] / medians['single']['samples_per_s'], 3) for name, m in medians.items()},
        'rounds': rounds}, indent=1))

def stop(_signal, _frame):
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C, so main's finally takes every lab down

if __name__ == '__main__':
    signal.signal(signal.SIGTERM, stop)
    try:
        main()
    except Failed as e:
        print(f'multihost: {e}', file=sys.stderr); sys.exit(1)
    except KeyboardInterrupt:
        print('multihost: stopped; every lab removed', file=sys.stderr); sys.exit(130)
