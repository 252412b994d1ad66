#!/usr/bin/env python3
"""What the cluster would do on more machines (issue 13, docs/SCALING.md), from a bench/multihost.py result.

A step of the synchronous modes moves one parameter copy to every worker machine and one gradient back, all of it
through the coordinator's link, and computes the global batch split across the machines. Without overlap the least
a step takes is (the same bound bench/multihost.py checks its measurements against):
    t0  +  compute of one machine's share  +  (M + 1) x P / R
where M is the number of worker machines, P the bytes of one parameter copy as it travels (fp32 2.61 MB, bf16 half),
R the link rate (M copies leave the coordinator's link one after another, and the last machine's gradient comes
back after its compute) and t0 the fixed cost of a step that no split shrinks (single-process step time less its
compute, from the same run). With --sync-every H a round sends every machine its copy, computes H steps, and takes
every machine's change back, nothing overlapped (P as --wire carries it):
    per step:  t0  +  compute of one machine's share  +  2 x M x P / (R x H)
The coordinator's link is the limit once its share of a step exceeds a machine's compute.

Inputs, all from the same multihost run (--input FILE, its JSON document):
  - a machine's compute rate: single-process samples/s there (a machine of this kind running alone);
  - bytes per step per node, per wire, from the lab runs;
  - the measured 2-machine steps, against which the model is checked: on the test bed the "machines" share the same
    2 cores, so the check uses the lab's own per-node compute time in place of the single-process rate.
Prints one JSON document: predictions (samples/s) for 2 to 64 worker machines at 1, 10 and 100 Gbit/s per mode,
where the coordinator's link becomes the limit, and the check. With --markdown, tables for docs/SCALING.md instead.
    /usr/bin/python3 bench/scaling.py --input multihost.json [--markdown]
"""
import argparse, json, sys

BATCH = 128
MACHINES = (2, 4, 8, 16, 32, 64)
RATES = {'1 Gbit/s': 1e9, '10 Gbit/s': 10e9, '100 Gbit/s': 100e9}

def modes(medians):
    """The synchronous wires measured, with the bytes of one copy as it travels (median node, to and from)."""
    found = {}
    for name, m in medians.items():
        if not name.startswith('lab_') or '_sync' in name or 'node_bytes_per_step' not in m: continue
        wire = 'bf16' if name.endswith('_bf16') else 'fp32'
        found.setdefault(wire, m['node_bytes_per_step'] / 2)
    return found

def step_ms(fixed_ms, machine_rate, machines, copy_bytes, link_bits, sync_every=1):
    """(step, a machine's compute, the coordinator link's share) in ms."""
    compute = 1000 * BATCH / (machines * machine_rate)
    copies = machines + 1 if sync_every == 1 else 2 * machines
    link = 1000 * copies * copy_bytes * 8 / link_bits / sync_every
    return fixed_ms + compute + link, compute, link

def predictions(fixed_ms, machine_rate, copies, sync_every):
    table = {}
    for wire, copy in copies.items():
        for h in sync_every:
            mode = f'{wire}' + (f', sync every {h}' if h > 1 else ', synchronous')
            rows = {}
            for rate_name, bits in RATES.items():
                row = {m: round(BATCH / step_ms(fixed_ms, machine_rate, m, copy, bits, h)[0] * 1000) for m in MACHINES}
                # The first machine count at which the coordinator's link takes longer than a machine's compute.
                limit = next(m for m in range(1, 100_000) if (lambda t: t[2] > t[1])(step_ms(fixed_ms, machine_rate, m, copy, bits, h)))
                rows[rate_name] = {'by_machines': row, 'link_limit_from_machines': limit}
            table[mode] = rows
    return table

def check(medians):
    """The model on the test bed's own 2-machine runs: their compute per node and bytes, against the measured step."""
    rows = {}
    for name, m in medians.items():
        if not name.startswith('lab_') or 'node_split_ms' not in m: continue
        parts = name.split('_')
        bits = parse_rate(parts[1])
        h = int(parts[2][4:]) if len(parts) > 2 and parts[2].startswith('sync') else 1
        # A round's bytes per step are averaged over the round; a copy is what one exchange carries each way.
        copy = m['node_bytes_per_step'] / 2 * h
        copies = 3 if h == 1 else 4
        predicted = m['node_split_ms']['compute_ms'] + 1000 * copies * copy * 8 / bits / h
        rows[name] = {'measured_step_ms': m['step_ms'], 'predicted_step_ms': round(predicted, 2),
                      'measured_over_predicted': round(m['step_ms'] / predicted, 3)}
    return rows

def parse_rate(text):
    units = {'gbit': 1e9, 'mbit': 1e6, 'kbit': 1e3}
    for u, f in units.items():
        if text.endswith(u): return float(text[:-len(u)]) * f
    raise SystemExit(f'scaling: cannot read the rate in {text!r}')

def markdown(report):
    out = [f"A machine's compute rate: {report['machine_samples_per_s']:,.0f} samples/s (single-process mode on this machine kind); "
           f"fixed cost of a step: {report['fixed_ms']} ms", '']
    for mode, rows in report['predictions'].items():
        out += [f'**{mode}** (samples/s)', '',
                '| link | ' + ' | '.join(f'{m} machines' for m in MACHINES) + ' | the coordinator\'s link is the limit from |',
                '| --- |' + ' --- |' * (len(MACHINES) + 1)]
        for rate, row in rows.items():
            cells = [f"{c:,}" for c in row['by_machines'].values()]
            out.append(f'| {rate} | ' + ' | '.join(cells) + f" | {row['link_limit_from_machines']} machines |")
        out.append('')
    out += ['Check against the test bed (2 worker machines sharing this machine\'s 2 cores):', '',
            '| run | measured step ms | predicted ms | measured / predicted |', '| --- | --- | --- | --- |']
    out += [f"| {k} | {v['measured_step_ms']} | {v['predicted_step_ms']} | {v['measured_over_predicted']} |" for k, v in report['check'].items()]
    return '\n'.join(out)

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--input', required=True, action='append',
                   help='a JSON document bench/multihost.py printed (repeat for several; the first gives the machine\'s rate)')
    p.add_argument('--sync-every', default='1,16,64', help='the H values to predict for')
    p.add_argument('--markdown', action='store_true')
    args = p.parse_args()
    results = []
    for path in args.input:
        try:
            results.append(json.load(open(path)))
        except (OSError, ValueError) as e:
            raise SystemExit(f'scaling: --input {path}: {e}; give the JSON that bench/multihost.py printed')
        if 'single' not in results[-1].get('median', {}):
            raise SystemExit(f'scaling: --input {path} has no single-process result; run bench/multihost.py unchanged')
    medians = {}
    for r in results:
        for name, m in r['median'].items(): medians.setdefault(name, m)
    copies = modes(medians)
    if not copies:
        raise SystemExit(f'scaling: --input {args.input[0]} has no synchronous lab run with per-node bytes')
    single = results[0]['median']['single']
    rate = single['samples_per_s']
    fixed = round(max(0.0, single['step_ms'] - single['node_split_ms']['compute_ms']), 2)
    report = {'machine_samples_per_s': rate, 'fixed_ms': fixed, 'copy_bytes': copies,
              'predictions': predictions(fixed, rate, copies, [int(h) for h in args.sync_every.split(',')]),
              'check': check(medians)}
    print(markdown(report) if args.markdown else json.dumps(report, indent=1))

main()
