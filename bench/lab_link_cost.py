#!/usr/bin/env python3
"""What moving bytes between two machines of the test bed (deploy/netlab.sh) costs this machine's CPU.

The test bed's "machines" share this machine's cores, and so does the kernel's work for every byte that crosses a
link: the sender's copy into the socket, the veth pair and the bridge, tbf, the receiver's copy out. This streams
--megabytes over plain TCP (no VaeCluster code) from machine 1 to machine 2 at each of --rates, --rounds times, and
counts every core's busy time (/proc/stat: user, nice, system, irq, softirq) over the transfer, less the machine's
idle background measured just before for as long. Run it on a quiet machine. docs/BENCHMARKS.md ("Many machines")
uses the figure to bound what the cluster can reach on this test bed. Needs root. Prints one JSON document:
    python3 bench/lab_link_cost.py --rounds 3
"""
import argparse, json, os, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETLAB = os.path.join(ROOT, 'deploy', 'netlab.sh')
PORT = 5555

PEER = r'''
import socket, sys
mode, host, megabytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
chunk = memoryview(bytearray(4 << 20))
if mode == 'receive':
    server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, %d)); server.listen(1); server.settimeout(30)
    peer, _ = server.accept(); peer.settimeout(120)
    while peer.recv_into(chunk): pass
    peer.sendall(b'k')
else:
    peer = socket.create_connection((host, %d), timeout=30); peer.settimeout(120)
    for _ in range(megabytes // 4): peer.sendall(chunk)
    peer.shutdown(socket.SHUT_WR); peer.recv(1)
''' % (PORT, PORT)


def busy_jiffies():
    user, nice, system, idle, iowait, irq, softirq = map(int, open('/proc/stat').readline().split()[1:8])
    return user + nice + system + irq + softirq


def netlab(*args):
    done = subprocess.run([NETLAB, *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        sys.exit(f'netlab.sh {" ".join(args)}: {(done.stderr or done.stdout).strip()}')
    return done.stdout.strip()


def one_transfer(lab, megabytes):
    receiver_host = netlab('addr', lab, '2')
    receiver = subprocess.Popen([NETLAB, 'exec', lab, '2', sys.executable, '-c', PEER, 'receive', receiver_host, '0'])
    time.sleep(0.5)
    start, began = busy_jiffies(), time.monotonic()
    subprocess.run([NETLAB, 'exec', lab, '1', sys.executable, '-c', PEER, 'send', receiver_host, str(megabytes)],
                   check=True, timeout=300)
    receiver.wait(timeout=60)
    seconds, busy = time.monotonic() - began, busy_jiffies() - start
    before = busy_jiffies()  # the background, over as long again
    time.sleep(seconds)
    background = busy_jiffies() - before
    tick = os.sysconf('SC_CLK_TCK')
    core_ms = max(busy - background, 0) * 1000 / tick
    return {'seconds': round(seconds, 2), 'gbit_per_s': round(megabytes * 8 / 1000 / seconds, 2),
            'core_ms_per_mb': round(core_ms / megabytes, 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--rates', default='10gbit,1gbit', help='tc rates, comma-separated')
    ap.add_argument('--megabytes', type=int, default=2000, help='per transfer at 10gbit (scaled down with the rate)')
    ap.add_argument('--rounds', type=int, default=3)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench/lab_link_cost.py needs root (it makes network namespaces); run it as root')
    lab = f'cost{os.getpid()}'
    netlab('up', lab, '2', '--owner', str(os.getpid()))
    try:
        results = {}
        for rate in a.rates.split(','):
            netlab('rate', lab, '1', rate)
            netlab('rate', lab, '2', rate)
            scale = 10 if rate.endswith('gbit') and rate[:-4] == '1' else 1
            runs = [one_transfer(lab, max(a.megabytes // scale // 4 * 4, 4)) for _ in range(a.rounds)]
            results[rate] = {'runs': runs,
                             'median_gbit_per_s': statistics.median(r['gbit_per_s'] for r in runs),
                             'median_core_ms_per_mb': statistics.median(r['core_ms_per_mb'] for r in runs)}
        print(json.dumps({'cpus': os.cpu_count(), 'rates': results}, indent=1))
    finally:
        netlab('down', lab)


if __name__ == '__main__':
    main()
