#!/usr/bin/python3
"""pxeroot's connection to the site state in a Ceph pool (src/system/cluster-state.ts).

One librados client for a whole pxeroot run, so that the cluster-wide lock it takes is its own
and renewed while it runs (a killed run's lock expires after its duration), and every write of
the state object is one compound operation that asserts the object's version: a compare-and-swap.

    state-session.py CONF ID POOL NAMESPACE TIMEOUT_S

Requests are JSON lines on stdin, {"id": N, "op": NAME, ...}; each answer one JSON line on
stdout, {"id": N, "ok": VALUE} or {"id": N, "error": KIND, "message": TEXT}. Requests are
answered in order. Objects' data travels base64-encoded, or as files for large ones.
"""
import base64
import errno
import json
import sys
import threading

import rados

conf, client_id, pool, namespace, timeout_s = sys.argv[1:6]
timeout = int(timeout_s)
cluster = rados.Rados(conffile=conf, rados_id=client_id)
# Bounded: a cluster that does not answer ends the request, not the run (client_mount_timeout for
# the monitors, the op timeouts for every later call).
for key in ('client_mount_timeout', 'rados_mon_op_timeout', 'rados_osd_op_timeout'):
    cluster.conf_set(key, str(timeout))
ioctx = None
out_lock = threading.Lock()
held = {}  # (obj, name) -> {cookie, desc, duration, lost}


def answer(rid, ok=None, error=None, message=None):
    line = {'id': rid, 'ok': ok} if error is None else {'id': rid, 'error': error, 'message': message}
    with out_lock:
        sys.stdout.write(json.dumps(line) + '\n')
        sys.stdout.flush()


def renew():
    """Keeps every lock this session holds: renewed at a third of its duration."""
    while True:
        for (obj, name), lock in list(held.items()):
            try:
                ioctx.lock_exclusive(obj, name, lock['cookie'], desc=lock['desc'], duration=lock['duration'], flags=1)
            except rados.Error:
                lock['lost'] = True
        waits = [lock['duration'] / 3 for lock in held.values()] or [5]
        stop.wait(max(1, min(waits)))
        if stop.is_set():
            return


stop = threading.Event()


def version_of(obj):
    """The object's data and RADOS version; (None, 0) when it does not exist."""
    try:
        size, _ = ioctx.stat(obj)
        data = ioctx.read(obj, length=max(size, 1))
        return data, ioctx.get_last_version()
    except rados.ObjectNotFound:
        return None, 0


class PoolFull(Exception):
    pass


def pool_full():
    """The pool's own full flags (full: its OSDs, full_quota: its quota), '' when it has room."""
    ret, out, err = cluster.mon_command(json.dumps({'prefix': 'osd dump', 'format': 'json'}), b'', timeout=timeout)
    if ret != 0:
        raise rados.Error(err or 'osd dump failed')
    flags = next((p.get('flags_names', '') for p in json.loads(out).get('pools', []) if p.get('pool_name') == pool), '')
    return ','.join(f for f in flags.split(',') if f in ('full', 'full_quota'))


def handle(req):
    global ioctx
    op = req['op']
    if op == 'connect':
        cluster.connect(timeout=timeout)
        ioctx = cluster.open_ioctx(pool)
        ioctx.set_namespace(namespace)
        # A write to a full pool fails at once (EDQUOT, ENOSPC) instead of waiting for room until
        # it times out, as a cluster that does not answer would.
        ioctx.set_osdmap_full_try()
        threading.Thread(target=renew, daemon=True).start()
        return True
    if op == 'lock':
        # Every change of the site starts here. On a full pool none is made, not even one that
        # would free room: Ceph holds or refuses writes there, a removal's steps among them (an
        # RBD image goes through the trash), and one refused half-way would leave it half-removed.
        full = pool_full()
        if full:
            raise PoolFull(full)
        obj, name = req['obj'], req['name']
        ioctx.lock_exclusive(obj, name, req['cookie'], desc=req.get('desc', ''), duration=req['duration'])
        held[(obj, name)] = {'cookie': req['cookie'], 'desc': req.get('desc', ''), 'duration': req['duration'], 'lost': False}
        return True
    if op == 'unlock':
        obj, name = req['obj'], req['name']
        lock = held.pop((obj, name), None)
        if lock:
            try:
                ioctx.unlock(obj, name, lock['cookie'])
            except rados.ObjectNotFound:
                pass
        return True
    if op == 'read':
        data, version = version_of(req['obj'])
        return {'data': None if data is None else base64.b64encode(data).decode(), 'version': version}
    if op == 'write':
        # Only under the lock, and only onto the version read: one compound, atomic operation.
        lock_obj, lock_name = req['lock']
        lock = held.get((lock_obj, lock_name))
        if not lock or lock['lost']:
            raise LockLost(f"the cluster lock {lock_name} on {lock_obj} is not held by this run")
        data = base64.b64decode(req['data'])
        wop = ioctx.create_write_op()
        try:
            if req['version'] == 0:
                wop.new(rados.LIBRADOS_CREATE_EXCLUSIVE)
            else:
                wop.assert_version(req['version'])
            wop.write_full(data)
            ioctx.operate_write_op(wop, req['obj'])
        finally:
            ioctx.release_write_op(wop)
        return {'version': ioctx.get_last_version()}
    if op == 'xattr_set':
        ioctx.set_xattr(req['obj'], req['name'], base64.b64decode(req['value']))
        return True
    if op == 'xattr_get':
        try:
            return base64.b64encode(ioctx.get_xattr(req['obj'], req['name'])).decode()
        except (rados.ObjectNotFound, rados.NoData):
            return None
    if op == 'put_file':
        # Immutable blobs (kernels, initrds): written whole, then renamed into place by their name.
        with open(req['path'], 'rb') as f:
            ioctx.write_full(req['obj'], f.read())
        return True
    if op == 'get_file':
        try:
            size, _ = ioctx.stat(req['obj'])
        except rados.ObjectNotFound:
            return False
        with open(req['path'], 'wb') as f:
            offset = 0
            while offset < size:
                chunk = ioctx.read(req['obj'], length=min(4 << 20, size - offset), offset=offset)
                if not chunk:
                    break
                f.write(chunk)
                offset += len(chunk)
        return True
    if op == 'exists':
        try:
            ioctx.stat(req['obj'])
            return True
        except rados.ObjectNotFound:
            return False
    if op == 'remove':
        try:
            ioctx.remove_object(req['obj'])
        except rados.ObjectNotFound:
            pass
        return True
    if op == 'list':
        return sorted(o.key for o in ioctx.list_objects() if o.key.startswith(req.get('prefix', '')))
    raise ValueError(f'unknown op {op}')


class LockLost(Exception):
    pass


for raw in sys.stdin:
    if not raw.strip():
        continue
    req = json.loads(raw)
    rid = req.get('id')
    try:
        answer(rid, ok=handle(req))
    except rados.ObjectBusy as e:
        answer(rid, error='busy', message=str(e))
    except (rados.TimedOut, rados.ConnectionShutdown) as e:
        answer(rid, error='timeout', message=str(e))
    except rados.Error as e:
        # ERANGE/EOVERFLOW: the object's version is not the one asserted (it changed); EEXIST: created meanwhile.
        code = getattr(e, 'errno', None)
        kind = 'changed' if code in (errno.ERANGE, errno.EOVERFLOW, errno.EEXIST, -errno.ERANGE, -errno.EOVERFLOW, -errno.EEXIST) \
            else 'full' if code in (errno.EDQUOT, errno.ENOSPC, -errno.EDQUOT, -errno.ENOSPC) else 'rados'
        answer(rid, error=kind, message=f'{type(e).__name__}: {e}')
    except PoolFull as e:
        answer(rid, error='full', message=str(e))
    except LockLost as e:
        answer(rid, error='lost', message=str(e))
    except Exception as e:  # noqa: BLE001 - every failure is answered, never a silent death
        answer(rid, error='internal', message=f'{type(e).__name__}: {e}')
stop.set()
if ioctx is not None:
    for (obj, name), lock in list(held.items()):
        try:
            ioctx.unlock(obj, name, lock['cookie'])
        except rados.Error:
            pass
    ioctx.close()
cluster.shutdown()
