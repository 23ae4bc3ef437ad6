"""pxeroot's session with one RBD pool: librados/librbd through Debian's python3-rbd.

Started by src/system/ceph.ts (inside the cluster's network namespace when the site names one,
under `timeout -k`), it reads one JSON request per line on stdin and answers each with one JSON
line on stdout: {"id", "ok": true, "result"} or {"id", "ok": false, "error", "errno"}. One
connection serves a whole pxeroot run: a clone costs ~25-40 ms here against ~250 ms for each
`rbd`/`ceph` CLI start (notes/ceph.md). Every cluster operation is bounded by the
rados_mon_op_timeout / rados_osd_op_timeout given at start, so an unreachable cluster is an
error, never a hang.

argv: CONF ID POOL TIMEOUT_SECONDS
"""
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import rados
import rbd

CONF, CLIENT_ID, POOL, TIMEOUT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

FEATURES = (rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK
            | rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF)

cluster = rados.Rados(conffile=CONF, rados_id=CLIENT_ID)
for key in ('rados_mon_op_timeout', 'rados_osd_op_timeout', 'client_mount_timeout'):
    cluster.conf_set(key, TIMEOUT)
# A lock this session breaks (op_break_locks) was fenced by op_blocklist first, with its own expiry:
# librbd's own blocklisting on break would shorten that to the cluster's default (1 h).
cluster.conf_set('rbd_blocklist_on_break_lock', 'false')
out_lock = threading.Lock()


def reply(message):
    with out_lock:
        sys.stdout.write(json.dumps(message) + '\n')
        sys.stdout.flush()


def ioctx(namespace=''):
    io = cluster.open_ioctx(POOL)
    io.set_namespace(namespace)
    # A pool that fills while this run writes: the write fails at once (EDQUOT, ENOSPC), said as a
    # full pool, instead of waiting for room until it times out as a cluster that does not answer.
    # (A run does not start on a full pool: state-session.py's lock refuses it.)
    io.set_osdmap_full_try()
    return io


def mon(command, inbuf=b''):
    ret, out, err = cluster.mon_command(json.dumps(command), inbuf, timeout=int(TIMEOUT))
    if ret != 0:
        raise OSError(-ret, err or 'mon command %s failed' % command.get('prefix'))
    return json.loads(out) if out and command.get('format') == 'json' else out.decode()


def op_connect(a):
    cluster.connect(timeout=int(TIMEOUT))
    return {'fsid': cluster.get_fsid(), 'pools': cluster.list_pools()}


def op_status(a):
    status = mon({'prefix': 'status', 'format': 'json'})
    health = status.get('health', {})
    dump = mon({'prefix': 'osd dump', 'format': 'json'})
    # POOL_FULL in the health checks may be another pool's quota: this pool's own flags say whether it is.
    flags = next((p.get('flags_names', '') for p in dump.get('pools', []) if p.get('pool_name') == POOL), '')
    return {'health': health.get('status'), 'checks': {k: v.get('summary', {}).get('message') for k, v in health.get('checks', {}).items()},
            'fsid': status.get('fsid'), 'pools': cluster.list_pools(),
            'compat': dump.get('require_min_compat_client'),
            'poolFull': any(f in ('full', 'full_quota') for f in flags.split(',')),
            'applications': mon({'prefix': 'osd pool application get', 'pool': POOL, 'format': 'json'}) if cluster.pool_exists(POOL) else None,
            'df': pool_df()}


def pool_df():
    if not cluster.pool_exists(POOL):
        return None
    for p in mon({'prefix': 'df', 'format': 'json'}).get('pools', []):
        if p.get('name') == POOL:
            quota = mon({'prefix': 'osd pool get-quota', 'pool': POOL, 'format': 'json'})
            return {'stored': p['stats'].get('stored'), 'maxAvail': p['stats'].get('max_avail'), 'quotaBytes': quota.get('quota_max_bytes')}
    return None


def op_mon(a):
    return mon(a['command'])


def op_namespaces(a):
    with ioctx() as io:
        return rbd.RBD().namespace_list(io)


def op_namespace_create(a):
    with ioctx() as io:
        if not rbd.RBD().namespace_exists(io, a['namespace']):
            rbd.RBD().namespace_create(io, a['namespace'])
    return None


def op_namespace_remove(a):
    with ioctx() as io:
        if rbd.RBD().namespace_exists(io, a['namespace']):
            rbd.RBD().namespace_remove(io, a['namespace'])
    return None


def op_images(a):
    with ioctx(a.get('namespace', '')) as io:
        return rbd.RBD().list(io)


def op_roots(a):
    """Every image of every namespace but the skipped ones: {namespace: [image, ...]}."""
    skip = set(a.get('skip', []))
    with ioctx() as io:
        names = [n for n in rbd.RBD().namespace_list(io) if n not in skip]
    out = {}
    for ns in names:
        with ioctx(ns) as io:
            out[ns] = rbd.RBD().list(io)
    return out


def op_exists(a):
    with ioctx(a['namespace']) as io:
        try:
            rbd.Image(io, a['image'], read_only=True).close()
            return True
        except rbd.ImageNotFound:
            return False


def op_clone(a):
    """A clone of parent@snap in the namespace (created when missing)."""
    with ioctx() as io:
        if not rbd.RBD().namespace_exists(io, a['namespace']):
            rbd.RBD().namespace_create(io, a['namespace'])
    with ioctx(a['parentNamespace']) as pio, ioctx(a['namespace']) as cio:
        rbd.RBD().clone(pio, a['parent'], a['snap'], cio, a['image'], features=FEATURES)
    return None


def op_rename(a):
    with ioctx(a['namespace']) as io:
        rbd.RBD().rename(io, a['from'], a['to'])
    return None


def op_remove(a):
    """Removes an image (and its snapshots); refused while a client has it open (its watchers: a
    read-only open, as here, registers none)."""
    with ioctx(a['namespace']) as io:
        try:
            with rbd.Image(io, a['image'], read_only=True) as image:
                watchers = list(image.watchers_list())
                snaps = list(image.list_snaps())
        except rbd.ImageNotFound:
            return False
        if watchers:
            raise OSError(16, 'in use by %s' % ', '.join(w['addr'] for w in watchers))
        if snaps:
            with rbd.Image(io, a['image']) as image:
                for snap in snaps:
                    if image.is_protected_snap(snap['name']):
                        image.unprotect_snap(snap['name'])
                    image.remove_snap(snap['name'])
        rbd.RBD().remove(io, a['image'])
        return True


def op_import_snap(a):
    """Snapshots an image as `snap` and protects it (the parent of clones)."""
    with ioctx(a['namespace']) as io, rbd.Image(io, a['image']) as image:
        if a['snap'] not in [s['name'] for s in image.list_snaps()]:
            image.create_snap(a['snap'])
        if not image.is_protected_snap(a['snap']):
            image.protect_snap(a['snap'])
    return None


def op_children(a):
    """Clones of image@snap, as "namespace/image"."""
    with ioctx(a['namespace']) as io:
        try:
            with rbd.Image(io, a['image'], snapshot=a['snap'], read_only=True) as image:
                return ['%s/%s' % (c['pool_namespace'], c['image']) for c in image.list_children2()]
        except rbd.ImageNotFound:
            return []


def op_info(a):
    with ioctx(a['namespace']) as io:
        try:
            with rbd.Image(io, a['image'], read_only=True) as image:
                parent = None
                try:
                    p = image.get_parent_image_spec()
                    parent = '%s/%s@%s' % (p['pool_namespace'], p['image_name'], p['snap_name'])
                except rbd.ImageNotFound:
                    pass
                return {'size': image.size(), 'parent': parent, 'watchers': [w['addr'] for w in image.watchers_list()],
                        'lockers': [l[1] for l in image.list_lockers().get('lockers', [])] if image.list_lockers() else []}
        except rbd.ImageNotFound:
            return None


def used_bytes(io, name):
    with rbd.Image(io, name, read_only=True) as image:
        total = [0]

        def count(offset, length, exists):
            if exists:
                total[0] += length
        # Whole objects through the object map: what the image itself holds (not its parent's).
        image.diff_iterate(0, image.size(), None, count, include_parent=False, whole_object=True)
        return total[0]


def op_du(a):
    """Bytes each listed image holds itself: {"namespace/image": bytes}."""
    out = {}
    for spec in a['images']:
        ns, name = spec.split('/', 1)
        with ioctx(ns) as io:
            try:
                out[spec] = used_bytes(io, name)
            except rbd.ImageNotFound:
                pass
    return out


def op_key(a):
    """get-or-create of a cephx user with these caps; returns its secret. A user of that name with
    other caps is refused, unless they are for the same pool and namespace (a node's own key, its
    caps changed since): then they are set to these."""
    entity = 'client.' + a['user']
    caps = []
    for k, v in a['caps'].items():
        caps += [k, v]
    try:
        got = mon({'prefix': 'auth get-or-create', 'entity': entity, 'caps': caps, 'format': 'json'})
        return got[0]['key']
    except OSError as e:
        if e.errno != 22:
            raise
        have = mon({'prefix': 'auth get', 'entity': entity, 'format': 'json'})[0]
        if a.get('owns', '') not in have.get('caps', {}).get('osd', ''):
            raise OSError(17, '%s exists with other caps (%s): another site or user has that name' % (entity, have.get('caps')))
        mon({'prefix': 'auth caps', 'entity': entity, 'caps': caps})
        return have['key']


def op_key_info(a):
    """A cephx user's secret and caps ({key, caps}), None when there is none. One user at a time:
    `auth ls` would hand this session every user's secret, which a user other than admin running
    pxeroot must not be able to read (storage/rbd/names.ts serverCaps)."""
    try:
        got = mon({'prefix': 'auth get', 'entity': 'client.' + a['user'], 'format': 'json'})[0]
        return {'key': got['key'], 'caps': got.get('caps', {})}
    except OSError as e:
        if e.errno == 2:
            return None
        raise


def op_key_remove(a):
    """Removes a cephx user; one that is not there is gone already."""
    try:
        mon({'prefix': 'auth del', 'entity': 'client.' + a['user']})
    except OSError as e:
        if e.errno != 2:
            raise
    return None


def op_self(a):
    """This session's own addresses (what a fence must never blocklist)."""
    return cluster.get_addrs()


def op_holders(a):
    """Who holds an image: its lockers ({client, cookie, address}; the exclusive lock's owner among
    them) and its watchers' addresses; None when the image does not exist. A read-only open
    registers no watcher, so this one is not among them."""
    with ioctx(a['namespace']) as io:
        try:
            with rbd.Image(io, a['image'], read_only=True) as image:
                found = image.list_lockers() or {}
                return {'lockers': [{'client': c, 'cookie': k, 'address': addr} for c, k, addr in found.get('lockers', [])],
                        'watchers': [w['addr'] for w in image.watchers_list()]}
        except rbd.ImageNotFound:
            return None


def op_blocklist(a):
    """Blocklists client addresses (ADDR:PORT/NONCE: one client instance) for `expire` seconds."""
    for address in a['addresses']:
        cluster.blocklist_add(address, int(a['expire']))
    return None


def op_break_locks(a):
    """Breaks the listed lockers' locks on an image (already fenced); returns those broken. One that
    is gone already (its lock released or broken since it was listed) is skipped."""
    broken = []
    with ioctx(a['namespace']) as io, rbd.Image(io, a['image']) as image:
        for locker in a['lockers']:
            try:
                image.break_lock(locker['client'], locker['cookie'])
                broken.append(locker)
            except rbd.ImageNotFound:
                pass
    return broken


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith('op_')}


def handle(request):
    try:
        reply({'id': request['id'], 'ok': True, 'result': OPS[request['op']](request.get('args') or {})})
    except Exception as e:  # every failure is an answer; the session goes on
        errno = getattr(e, 'errno', None)
        reply({'id': request['id'], 'ok': False, 'errno': errno, 'error': '%s: %s' % (type(e).__name__, e)})


# librbd releases the GIL in its calls: a few requests at once keep the cluster busy.
with ThreadPoolExecutor(max_workers=4) as pool:
    for line in sys.stdin:
        if line.strip():
            request = json.loads(line)
            # connect first and alone: everything else needs it.
            if request['op'] == 'connect':
                handle(request)
            else:
                pool.submit(handle, request)
cluster.shutdown()
