# kazoo recipes against a ZooKeeper server, for TestKazooRecipes
# (zkcli_test.go). Usage: python3 kazoo_recipes.py HOST:PORT RECIPE, where
# RECIPE is lock, election, barrier, counter, queue or watch. Each recipe
# works under its own root (/kz-RECIPE), prints one "ok CHECK" line per
# outcome it verified and exits non-zero (with a traceback) on the first
# that did not hold. Waits are bounded by WAIT seconds; none sleeps to let
# something happen.

import sys
import threading

from kazoo.client import KazooClient

HOSTS = sys.argv[1]
RECIPE = sys.argv[2]
ROOT = "/kz-" + RECIPE
WAIT = 20

# Contended recipes (counter, queue) retry on BadVersion/NoNode: keep the
# back-off short so the test stays quick.
RETRY = dict(max_tries=-1, delay=0.01, backoff=1.5, max_jitter=0.5, max_delay=0.2)

clients = []


def client():
    """Returns a started client that main() stops at the end."""
    c = KazooClient(hosts=HOSTS, timeout=10, command_retry=RETRY)
    c.start(timeout=10)
    clients.append(c)
    return c


def stop(c):
    """Closes c's session, so its ephemerals go."""
    c.stop()
    c.close()


def ok(check):
    print("ok " + check, flush=True)


def synced(c, path):
    """Returns c after a sync of path: c's server then has every write
    acknowledged before. On an ensemble c may talk to another member than
    the client that wrote; ZooKeeper promises each client its own writes
    only, so a read of another client's write that no watch event
    announced syncs first (a no-op on one server)."""
    c.sync(path)
    return c


def run_threads(targets):
    """Runs each callable in its own thread; re-raises the first error."""
    errors = []

    def wrap(f):
        def run():
            try:
                f()
            except BaseException as e:  # noqa: B902 - reported below
                errors.append(e)
        return run

    threads = [threading.Thread(target=wrap(f)) for f in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
        assert not t.is_alive(), "a recipe thread did not finish"
    if errors:
        raise errors[0]


def recipe_lock():
    a, b = client(), client()
    # Hand-over: a holds it; b cannot take it without waiting; b waits and
    # gets it once a releases.
    la = a.Lock(ROOT + "/handover", "alpha")
    lb = b.Lock(ROOT + "/handover", "beta")
    assert la.acquire(timeout=WAIT), "a could not take a free lock"
    assert not lb.acquire(blocking=False), "b took a held lock"
    two = threading.Event()

    # NB: b's try above made and removed a node: a's watch must not count
    # it.
    @synced(a, ROOT + "/handover").ChildrenWatch(ROOT + "/handover")
    def contenders(children):
        if len(children) == 2:
            two.set()

    got = threading.Event()

    def wait_b():
        if lb.acquire(timeout=WAIT):
            got.set()

    t = threading.Thread(target=wait_b)
    t.start()
    assert two.wait(WAIT), "b's lock node never showed up"
    assert not got.is_set(), "b got the lock while a held it"
    assert la.contenders() == ["alpha", "beta"], la.contenders()
    la.release()
    assert got.wait(WAIT), "b did not get the lock after a released it"
    t.join()
    lb.release()
    ok("lock handover")

    # Mutual exclusion: three clients each do five unversioned
    # read-modify-write increments of one znode under the lock. Without
    # exclusion some would be lost, or two holders would overlap.
    c = client()
    a.create(ROOT + "/guarded", b"0")
    holders = [0]
    overlap = []
    mu = threading.Lock()

    def worker(cl, name):
        def run():
            lock = cl.Lock(ROOT + "/mutex", name)
            for _ in range(5):
                with lock:
                    with mu:
                        holders[0] += 1
                        if holders[0] != 1:
                            overlap.append(holders[0])
                    data, _ = cl.get(ROOT + "/guarded")
                    cl.set(ROOT + "/guarded", str(int(data) + 1).encode())
                    with mu:
                        holders[0] -= 1
        return run

    run_threads([worker(a, "a"), worker(b, "b"), worker(c, "c")])
    assert not overlap, "lock held by %s clients at once" % overlap
    data, stat = synced(a, ROOT + "/guarded").get(ROOT + "/guarded")
    assert data == b"15" and stat.version == 15, (data, stat.version)
    kids = synced(a, ROOT + "/mutex").get_children(ROOT + "/mutex")
    assert kids == [], kids
    ok("lock mutual exclusion")


def recipe_election():
    # Three contenders; exactly one leads at a time. Stopping the leader's
    # client hands leadership to the next contender in line.
    names = ["a", "b", "c"]
    cl = {n: client() for n in names}
    elections = {n: cl[n].Election(ROOT, n) for n in names}
    cond = threading.Condition()
    leaders = []  # in order of election
    leading = set()
    overlap = []
    release = {n: threading.Event() for n in names}

    def lead(n):
        with cond:
            leading.add(n)
            if len(leading) != 1:
                overlap.append(sorted(leading))
            leaders.append(n)
            cond.notify_all()
        release[n].wait(WAIT * 3)

    def contend(n):
        try:
            elections[n].run(lead, n)
        except Exception:  # noqa: B902 - its client was stopped under it
            pass

    threads = [threading.Thread(target=contend, args=(n,)) for n in names]
    for t in threads:
        t.start()

    def wait_leaders(k):
        with cond:
            assert cond.wait_for(lambda: len(leaders) >= k, WAIT), leaders
            return leaders[k - 1]

    first = wait_leaders(1)
    # All three are in the contenders list, and still only one leads.
    contenders = []
    all_in = threading.Event()

    @cl[first].ChildrenWatch(ROOT)
    def watch(children):
        if len(children) == 3:
            all_in.set()

    assert all_in.wait(WAIT), "not all contenders showed up"
    contenders = elections[first].contenders()
    assert sorted(contenders) == names, contenders
    assert contenders[0] == first, (contenders, first)
    with cond:
        assert leaders == [first], leaders
    ok("election one leader")

    # The leader's client stops: the next in line takes over.
    with cond:
        leading.discard(first)
    stop(cl[first])
    second = wait_leaders(2)
    assert second == contenders[1], (second, contenders)
    ok("election takeover")

    # And once more, to the last contender.
    with cond:
        leading.discard(second)
    stop(cl[second])
    third = wait_leaders(3)
    assert third == contenders[2], (third, contenders)
    with cond:
        leading.discard(third)
    assert not overlap, "two leaders at once: %s" % overlap
    assert leaders == contenders, (leaders, contenders)
    for n in names:
        release[n].set()
    for t in threads:
        t.join(WAIT)
    ok("election order")


def recipe_barrier():
    # Barrier: b and c wait while a holds the barrier, and go when a
    # removes it.
    a, b, c = client(), client(), client()
    ba = a.Barrier(ROOT + "/gate")
    ba.create()
    assert not synced(b, ROOT + "/gate").Barrier(ROOT + "/gate").wait(timeout=0.3), "b passed an existing barrier"
    waiting = threading.Barrier(3)
    released = []

    def waiter(cl, name):
        def run():
            bar = cl.Barrier(ROOT + "/gate")
            waiting.wait(WAIT)
            if bar.wait(timeout=WAIT):
                released.append(name)
        return run

    def remover():
        waiting.wait(WAIT)
        assert ba.remove(), "a could not remove the barrier"

    run_threads([waiter(b, "b"), waiter(c, "c"), remover])
    assert sorted(released) == ["b", "c"], released
    assert a.exists(ROOT + "/gate") is None
    ok("barrier release")

    # DoubleBarrier with three members: nobody is through enter() before
    # all three entered, nobody is through leave() before all three left.
    cond = threading.Condition()
    state = {"entered": 0, "left": 0}
    early = []

    def member(cl, name):
        def run():
            db = cl.DoubleBarrier(ROOT + "/double", 3, name)
            with cond:
                state["entered"] += 1
            db.enter()
            with cond:
                if state["entered"] != 3:
                    early.append(("enter", name, state["entered"]))
                state["left"] += 1
            db.leave()
            with cond:
                if state["left"] != 3:
                    early.append(("leave", name, state["left"]))
        return run

    run_threads([member(a, "a"), member(b, "b"), member(c, "c")])
    assert not early, early
    kids = synced(a, ROOT + "/double").get_children(ROOT + "/double")
    assert kids == [], kids
    ok("double barrier")


def recipe_counter():
    # Four clients, two threads each, ten increments per thread and one
    # decrement of 5: version-checked sets must lose nothing.
    cls = [client() for _ in range(4)]

    def incr(cl):
        def run():
            counter = cl.Counter(ROOT + "/n")
            for _ in range(10):
                counter += 1
        return run

    run_threads([incr(cl) for cl in cls for _ in range(2)])
    counter = cls[0].Counter(ROOT + "/n")
    counter -= 5
    assert counter.value == 75, counter.value
    data, _ = synced(cls[3], ROOT + "/n").get(ROOT + "/n")
    assert data == b"75", data
    ok("counter sum")


def recipe_queue():
    a, b, c = client(), client(), client()
    # Queue: a puts items with priorities; b and c take turns getting. They
    # come out by priority, then in put order, each exactly once.
    q = a.Queue(ROOT + "/q")
    puts = [(b"p5-0", 5), (b"p1-0", 1), (b"p5-1", 5), (b"p9-0", 9), (b"p1-1", 1), (b"p5-2", 5)]
    for v, pri in puts:
        q.put(v, priority=pri)
    assert len(q) == len(puts), len(q)
    want = [v for v, _ in sorted(puts, key=lambda p: p[1])]  # stable: put order
    qb, qc = synced(b, ROOT + "/q").Queue(ROOT + "/q"), synced(c, ROOT + "/q").Queue(ROOT + "/q")
    got = []
    for i in range(len(puts)):
        got.append((qb if i % 2 == 0 else qc).get())
    assert got == want, (got, want)
    assert qb.get() is None and qc.get() is None, "items after the last"
    assert synced(a, ROOT + "/q").get_children(ROOT + "/q") == []
    ok("queue order")

    # LockingQueue: a puts 20 items at once (put_all is a multi); b and c
    # consume concurrently. Each item is consumed exactly once, and each
    # consumer sees its items in put order.
    lq = a.LockingQueue(ROOT + "/lq")
    items = [("item-%02d" % i).encode() for i in range(20)]
    lq.put_all(items)
    assert len(lq) == 20, len(lq)
    taken = {"b": [], "c": []}
    mu = threading.Lock()
    total = [0]

    def consumer(cl, name):
        def run():
            mq = cl.LockingQueue(ROOT + "/lq")
            while True:
                with mu:
                    if total[0] >= len(items):
                        return
                v = mq.get(timeout=0.5)
                if v is None:
                    continue
                assert mq.consume(), "consume failed"
                with mu:
                    taken[name].append(v)
                    total[0] += 1
        return run

    run_threads([consumer(b, "b"), consumer(c, "c")])
    for name, vs in taken.items():
        assert vs == sorted(vs), (name, vs)
    assert sorted(taken["b"] + taken["c"]) == items, taken
    synced(a, ROOT + "/lq")
    assert len(lq) == 0, len(lq)
    ok("locking queue exactly once")


def recipe_watch():
    a, b = client(), client()
    cond = threading.Condition()

    # DataWatch: a watches a node b creates, changes and deletes.
    seen = []

    @a.DataWatch(ROOT + "/data")
    def data_watch(data, stat):
        with cond:
            seen.append(None if stat is None else (data, stat.version))
            cond.notify_all()

    def wait_seen(lst, n):
        with cond:
            assert cond.wait_for(lambda: len(lst) >= n, WAIT), lst

    wait_seen(seen, 1)
    b.create(ROOT + "/data", b"v1", makepath=True)
    wait_seen(seen, 2)
    b.set(ROOT + "/data", b"v2")
    wait_seen(seen, 3)
    b.delete(ROOT + "/data")
    wait_seen(seen, 4)
    assert seen == [None, (b"v1", 0), (b"v2", 1), None], seen
    ok("datawatch")

    # ChildrenWatch: a sees every membership change b makes, one at a time.
    b.ensure_path(ROOT + "/kids")
    lists = []

    @a.ChildrenWatch(ROOT + "/kids")
    def kids_watch(children):
        with cond:
            lists.append(sorted(children))
            cond.notify_all()

    wait_seen(lists, 1)
    steps = [
        (lambda: b.create(ROOT + "/kids/x"), ["x"]),
        (lambda: b.create(ROOT + "/kids/y"), ["x", "y"]),
        (lambda: b.delete(ROOT + "/kids/x"), ["y"]),
        (lambda: b.create(ROOT + "/kids/z", ephemeral=True), ["y", "z"]),
        (lambda: b.delete(ROOT + "/kids/y"), ["z"]),
    ]
    for i, (change, _) in enumerate(steps):
        change()
        wait_seen(lists, i + 2)
    # b's session ends: its ephemeral z goes, and a sees that too.
    stop(b)
    wait_seen(lists, len(steps) + 2)
    want = [[]] + [w for _, w in steps] + [[]]
    assert lists == want, (lists, want)
    ok("childrenwatch")

    # An ephemeral of a goes when a stops; c's watch sees it go.
    c = client()
    a.create(ROOT + "/eph", b"", ephemeral=True)
    gone = threading.Event()

    def on_delete(event):
        if event.type == "DELETED":
            gone.set()

    assert synced(c, ROOT + "/eph").exists(ROOT + "/eph", watch=on_delete) is not None
    stop(a)
    assert gone.wait(WAIT), "a's ephemeral outlived its session"
    assert c.exists(ROOT + "/eph") is None
    ok("ephemeral cleanup")


RECIPES = {
    "lock": recipe_lock,
    "election": recipe_election,
    "barrier": recipe_barrier,
    "counter": recipe_counter,
    "queue": recipe_queue,
    "watch": recipe_watch,
}


def main():
    try:
        RECIPES[RECIPE]()
    finally:
        for c in clients:
            try:
                stop(c)
            except Exception:  # noqa: B902 - already stopped
                pass


if __name__ == "__main__":
    main()
