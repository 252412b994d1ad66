#!/usr/bin/env python3
"""What the cluster would do on more machines (issue 13, docs/SCALING.md), from a bench/multihost.py result.

A step of the synchronous modes moves one parameter copy to every worker machine and one gradient back, all of it
through the coordinator's link, and computes the global batch split across the machines. Without overlap the least
a step takes is (the same bound bench/multihost.py checks its measurements against):
    compute of one machine's share  +  (M + 1) x P / R
where M is the number of worker machines, P the bytes of one parameter copy as it travels (fp32 2.61 MB, bf16 half)
and R the link rate: M copies leave the coordinator's link one after another, and the last machine's gradient comes
back after its compute. With --sync-every H a machine takes H local steps per exchange of one copy each way, so the
link's share of a step is divided by H. The coordinator's link becomes the limit once (M + 1) x P / R exceeds a
machine's compute.

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

def modes(result):
    """The synchronous modes measured, with the bytes of one copy as it travels (median node, to and from)."""
    found = {}
    for name, m in result['median'].items():
        if not name.startswith('lab_') or 'node_bytes_per_step' not in m: continue
        wire = 'bf16' if name.endswith('_bf16') else 'fp32'
        found.setdefault(wire, m['node_bytes_per_step'] / 2)
    return found

def step_ms(machine_rate, machines, copy_bytes, link_bits, sync_every=1):
    compute = 1000 * BATCH / (machines * machine_rate)
    link = 1000 * (machines + 1) * copy_bytes * 8 / link_bits / sync_every
    return compute + link, compute, link

def predictions(machine_rate, copies, sync_every):
    table = {}
    for wire, copy in copies.items():
        for h in sync_every:
            mode = f'{wire}' + (f', sync every {h}' if h > 1 else ', synchronous')
            rows = {}
            for rate_name, bits in RATES.items():
                row = {}
                for m in MACHINES:
                    total, compute, link = step_ms(machine_rate, m, copy, bits, h)
                    row[m] = {'samples_per_s': round(BATCH / total * 1000), 'link_bound': link > compute}
                # The first machine count at which the coordinator's link takes longer than a machine's compute.
                limit = next((m for m in range(1, 1025) if step_ms(machine_rate, m, copy, bits, h)[2] > step_ms(machine_rate, m, copy, bits, h)[1]), None)
                rows[rate_name] = {'by_machines': row, 'link_limit_from_machines': limit}
            table[mode] = rows
    return table

def check(result):
    """The model on the test bed's own 2-machine runs: their compute per node and bytes, against the measured step."""
    rows = {}
    for name, m in result['median'].items():
        if not name.startswith('lab_') or 'node_split_ms' not in m: continue
        bits = parse_rate(name.split('_')[1])
        copy = m['node_bytes_per_step'] / 2
        predicted = m['node_split_ms']['compute_ms'] + 1000 * 3 * copy * 8 / bits
        rows[name] = {'measured_step_ms': m['step_ms'], 'predicted_step_ms': round(predicted, 2),
                      'measured_over_predicted': round(m['step_ms'] / predicted, 3)}
    return rows

def parse_rate(text):
    units = {'gbit': 1e9, 'mbit': 1e6, 'kbit': 1e3}
    for u, f in units.items():
        if text.endswith(u): return float(text[:-len(u)]) * f
    raise SystemExit(f'scaling: cannot read the rate in {text!r}')

def markdown(report):
    out = [f"Machine compute rate (single-process samples/s on this machine kind): {report['machine_samples_per_s']:,.0f}", '']
    for mode, rows in report['predictions'].items():
        out += [f'**{mode}** (samples/s; * = the coordinator\'s link is the limit)', '',
                '| link | ' + ' | '.join(f'{m} machines' for m in MACHINES) + ' | link-bound from |',
                '| --- |' + ' --- |' * (len(MACHINES) + 1)]
        for rate, row in rows.items():
            cells = [f"{c['samples_per_s']:,}{'*' if c['link_bound'] else ''}" for c in row['by_machines'].values()]
            out.append(f'| {rate} | ' + ' | '.join(cells) + f" | {row['link_limit_from_machines']} machines |")
        out.append('')
    out += ['Check against the test bed (2 worker machines sharing this machine\'s 2 cores):', '',
            '| run | measured step ms | predicted ms | measured / predicted |', '| --- | --- | --- | --- |']
    out += [f"| {k} | {v['measured_step_ms']} | {v['predicted_step_ms']} | {v['measured_over_predicted']} |" for k, v in report['check'].items()]
    return '\n'.join(out)

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--input', required=True, help='the JSON document bench/multihost.py printed')
    p.add_argument('--sync-every', default='1,16', help='the H values to predict for')
    p.add_argument('--markdown', action='store_true')
    args = p.parse_args()
    try:
        result = json.load(open(args.input))
    except (OSError, ValueError) as e:
        raise SystemExit(f'scaling: --input {args.input}: {e}; give the JSON that bench/multihost.py printed')
    if 'single' not in result.get('median', {}):
        raise SystemExit(f'scaling: --input {args.input} has no single-process result; run bench/multihost.py unchanged')
    copies = modes(result)
    if not copies:
        raise SystemExit(f'scaling: --input {args.input} has no lab run with per-node bytes')
    rate = result['median']['single']['samples_per_s']
    report = {'machine_samples_per_s': rate, 'copy_bytes': copies,
              'predictions': predictions(rate, copies, [int(h) for h in args.sync_every.split(',')]),
              'check': check(result)}
    print(markdown(report) if args.markdown else json.dumps(report, indent=1))

main()
