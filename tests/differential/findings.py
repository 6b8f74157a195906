"""Writes FINDINGS.md from a KRATER_DIFF_REPORT file: every difference, by category.

    python3 tests/differential/findings.py REPORT > tests/differential/FINDINGS.md
"""
import json, re, sys
from collections import OrderedDict
txt = open(sys.argv[1]).read()
summary = txt.split('\n')[0]
blocks = txt.split('\n## ')[1:]
rows = []
for b in blocks:
    lines = b.split('\n')
    verdict = lines[0]; head = lines[1]
    key = head[1:head.index('] ')]; req_line = head[head.index('] ') + 2:]
    req = [l[11:] for l in lines if l.startswith('  request:')]
    diff = [l for l in lines if l.startswith('  differs at:')][0][14:]
    o = [l for l in lines if l.startswith('  octavia:')][0][11:]
    k = [l for l in lines if l.startswith('  krater :')][0][11:]
    def parse(s):
        st, _, body = s.partition(' ')
        try: return int(st), json.loads(body)
        except Exception: return int(st), body
    rows.append(dict(verdict=verdict, key=key, line=req_line, req=req[0] if req else None,
                     diff=diff, o=parse(o), k=parse(k)))

def get(obj, path):
    path = re.sub(r' \(only \w+\)$', '', path)
    if path in ('.', ''): return obj
    for part in re.findall(r'\.([^.\[]+)|\[(\d+)\]', path):
        name, idx = part
        try:
            obj = obj[name] if name else obj[int(idx)]
        except Exception:
            return '<absent>'
    return obj

def short(v, n=260):
    s = json.dumps(v, sort_keys=True) if not isinstance(v, str) else json.dumps(v)
    return s if len(s) <= n else s[:n] + '…'

def summarise_list(v):
    if isinstance(v, list):
        return [x.get('name') or x.get('address') or x.get('id') if isinstance(x, dict) else x for x in v]
    return v

CATS = OrderedDict([
 ('allowed', 'Allowlisted (deliberate, README "Where krater differs from Octavia on purpose")'),
 ('null-key', 'Null vs absent keys'),
 ('links', 'Pagination links'),
 ('page-reverse', 'page_reverse with a marker: different page'),
 ('filters', 'Filters'),
 ('underscore', 'Error text: Octavia names the body `listener_`/`pool_`/`member_`/`health_monitor_`/`members_`'),
 ('error-text', 'Error texts (same status code, other wording)'),
 ('404-format', '404 body format for a missing parent pool'),
 ('status-machine', 'Status machine: which object the 409 names'),
 ('validation', 'Validation: one side accepts what the other refuses, or another status code'),
 ('octavia-500', 'Octavia answers 500 (an Octavia bug), krater a 4xx'),
 ('routes', 'Routes and methods'),
 ('amphora', 'Amphora fields (noop drivers)'),
 ('consequence', 'Consequences of an earlier difference in the same scenario'),
])

def cat(r):
    d, key = r['diff'], r['key']
    so, bo = r['o']; sk, bk = r['k']
    if r['verdict'].startswith('allowed'): return 'allowed'
    parts = [p.strip() for p in d.split(', ')]
    if key.startswith('amphorae/') or 'amphorae of lb' in key: return 'amphora'
    if key.startswith(('unsupported_methods/', 'versions/')) or 'failover' in key: return 'routes'
    if 'DELETE accepted bad' in key or key.endswith('/DELETE dup'): return 'consequence'
    if all(re.search(r'(healthmonitor_id|health_monitor) \(only', p) for p in parts): return 'null-key'
    if all('_links' in p or re.search(r'(healthmonitor_id|health_monitor) \(only', p) for p in parts): return 'links'
    if 'page_reverse' in key and so == sk: return 'page-reverse'
    if ('admin_state_up=maybe' in key or 'loadbalancer_id=' in key or 'pool_id=' in key) and 'GET' in r['line']: return 'filters'
    if '"Bad Request"' in json.dumps(bo): return '404-format'
    if parts == ['.faultstring']:
        if 'immutable' in json.dumps(bo): return 'status-machine'
        if re.search(r"attribute \w+_\. Value", json.dumps(bo)): return 'underscore'
        return 'error-text'
    if so >= 500: return 'octavia-500'
    if 'status' in parts and (so < 300) != (sk < 300) and r['req'] is None: return 'consequence'
    if 'status' in parts: return 'validation'
    return 'consequence'

groups = OrderedDict((c, []) for c in CATS)
for r in rows:
    groups[cat(r)].append(r)

out = []
out.append('''# Differences between krater and the real Octavia 19 (differential test)

Generated from one run of `tests/differential` (`KRATER_DIFF_REPORT=... pytest
tests/differential`, then `tests/differential/findings.py`) on krater at the commit of
this file. Every answer is shown normalised as the test compares it (ids by name or
`<id:KEY:N>`, `<ts>`, `<base>`, `<allocated>`). Each entry: the request (scenario/step),
Octavia's answer, krater's answer, at the JSON paths where they differ.
Recorded answer-for-answer in `known.json` (read by `scripts/test.sh`), except the
allowlisted ones (`allowlist.json`).

Run summary: `''' + summary + '`\n')
out.append('''## What matters most (reading of this run)

- **Null vs absent keys** are most entries but one fix: pool bodies carry
  `"healthmonitor_id": null` where Octavia omits the key; the status tree omits
  `"health_monitor": null` where Octavia sends it.
- **Pagination**: link hrefs miss the `/v2/lbaas` prefix, `limit=0`/`-1` links differ, and
  `page_reverse` with a marker returns another page than Octavia's.
- **Filters**: `loadbalancer_id=` (listeners, pools) and `pool_id=` (health monitors) are
  refused with 400 where Octavia filters; `admin_state_up=maybe` matches nothing (Octavia:
  false).
- **Validation gaps**: `additional_vips: "x"` accepted (Octavia 400), an IPv6
  `allowed_cidrs` entry on an IPv4 VIP accepted (Octavia 400), duplicate members in one
  batch give 400 instead of 409.
- **Routes**: `GET /v2/lbaas/loadbalancers/` (trailing slash) is 404, `PUT
  .../loadbalancers/{id}/failover` is 404 (Octavia 202), 405s have no body and
  DELETE/PUT on a collection is 405 (Octavia 400 "Missing argument").
- **Texts**: the `listener_`-style argument names of WSME, a handful of other messages,
  the 409 for a member/health-monitor change names the load balancer instead of the pool,
  404 under a missing pool has Octavia's `{"code", "description", "title"}` shape.
- **Amphorae** (noop drivers on both sides): `cert_expiration` null, `vrrp_id` null,
  `vrrp_interface` "eth1" (Octavia: a date, 1, null).
- Octavia answers **500** to four malformed bodies where krater answers 4xx: krater is
  right; they could go on the allowlist.
''')
out.append('## Counts by category\n')
out.append('| category | differences |\n|---|---|')
for c, title in CATS.items():
    out.append(f'| {title} | {len(groups[c])} |')
out.append(f'| **total** | **{len(rows)}** |\n')
NOTES = {
 'null-key': 'krater sends `"healthmonitor_id": null` in every pool without a health monitor; Octavia 19 leaves the key out. In the status tree it is the other way round: Octavia sends `"health_monitor": null` in a pool, krater leaves it out. (Same root cause for every pool body: one fix removes them all.)',
 'links': 'krater\'s `*_links` hrefs lack the `/v2/lbaas` (or `/v2/lbaas/pools/<id>`) path prefix and with `limit=0`/`limit=-1` krater gives no links or other ones; with a marker Octavia gives both `previous` and `next` in its order.',
 'page-reverse': 'With `page_reverse=true` and a marker Octavia returns the page *before* the marker in its own (reversed, then re-reversed) way, krater another page.',
 'filters': '`admin_state_up=maybe`: Octavia treats it as false, krater matches nothing. `loadbalancer_id=` on listeners/pools and `pool_id=` on health monitors: Octavia filters, krater answers 400 "One or more arguments are either duplicate or invalid".',
 'underscore': 'Octavia (WSME) names the body argument with a trailing underscore in "Invalid input for field/attribute listener_. Value: ..."; krater writes `listener`.',
 'status-machine': 'A change to a health monitor or member while the load balancer is PENDING_UPDATE: Octavia\'s 409 names the pool ("Pool <pool> is immutable and cannot be updated."), krater\'s the load balancer.',
 'octavia-500': 'Octavia answers 500 to these malformed bodies; krater answers 400/404. Candidates for the allowlist (krater is right) if the team wants them there.',
 'consequence': 'Follow from a difference earlier in the same scenario (an object one side accepted and the other refused, then deleted or listed).',
}
for c, title in CATS.items():
    if not groups[c]: continue
    out.append(f'## {title} ({len(groups[c])})\n')
    if c in NOTES: out.append(NOTES[c] + '\n')
    for r in groups[c]:
        out.append(f'- `{r["key"]}`: `{r["line"]}`' + (f' body `{short(json.loads(r["req"]) if r["req"] and r["req"][0] in "[{" else r["req"], 200)}`' if r['req'] else ''))
        so, bo = r['o']; sk, bk = r['k']
        parts = [p.strip() for p in r['diff'].split(', ')]
        vals = [p for p in parts if p != 'status'][:4]
        if so != sk or not vals or c in ('routes', 'validation', 'octavia-500', '404-format', 'consequence', 'error-text', 'underscore', 'status-machine', 'filters'):
            fo = bo.get('faultstring') if isinstance(bo, dict) and 'faultstring' in bo else None
            fk = bk.get('faultstring') if isinstance(bk, dict) and 'faultstring' in bk else None
            out.append(f'  - Octavia: {so} {short(fo if fo else summarise_list(next(iter(bo.values()))) if isinstance(bo, dict) and len(bo) <= 2 and not fo and bo else (fo or bo))}')
            out.append(f'  - krater: {sk} {short(fk if fk else summarise_list(next(iter(bk.values()))) if isinstance(bk, dict) and len(bk) <= 2 and not fk and bk else (fk or bk))}')
        else:
            for p in vals:
                vo, vk = get(bo, p), get(bk, p)
                if isinstance(vo, list) or isinstance(vk, list):
                    vo, vk = summarise_list(vo), summarise_list(vk)
                out.append(f'  - `{p}`: Octavia {short(vo, 200)} / krater {short(vk, 200)}')
    out.append('')
print('\n'.join(out))
