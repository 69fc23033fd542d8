/*
 * Signatures checked ahead of an import, on other threads (docs/storage.md,
 * "Imports"): an Ed25519 verify costs tens of microseconds, about as much
 * as everything else an import does with an envelope, so while the import
 * stores envelope i another core checks envelope i + k.  Each envelope has
 * a state — not claimed, claimed, good, bad — taken by compare-and-swap:
 * the import checks an envelope itself when no thread has claimed it, and
 * waits only for one a thread is checking at that moment.  The result is
 * the same as checking in order on one thread; only the time differs.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "replica/replica_int.h"

enum { UNCLAIMED = 0, CLAIMED = 1, GOOD = 2, BAD = 3 };

#define MAX_THREADS 3
/* Fewer envelopes than this are checked in line: a thread costs more. */
#define MIN_ENVELOPES 64

struct dc__verifier {
    const dc__span *v;
    size_t n;
    _Atomic unsigned char *state;
    atomic_size_t next;
    atomic_bool stop;
    pthread_t th[MAX_THREADS];
    int nth;
};

static unsigned char check(const dc__span *s) {
    dc__envelope e;
    dc__err err = {0};
    if (dc__envelope_parse(&e, s->p, s->n, &err) != 0)
        return BAD;
    return dc__envelope_verify(&e, &err) == 0 ? GOOD : BAD;
}

/* Checks the next envelope no one has claimed, if any: false when none is
 * left. */
static bool check_next(dc__verifier *vf) {
    size_t i = atomic_fetch_add(&vf->next, 1);
    if (i >= vf->n)
        return false;
    unsigned char want = UNCLAIMED;
    if (atomic_compare_exchange_strong(&vf->state[i], &want, CLAIMED))
        atomic_store_explicit(&vf->state[i], check(&vf->v[i]), memory_order_release);
    return true;
}

static void *worker(void *arg) {
    dc__verifier *vf = arg;
    while (!atomic_load_explicit(&vf->stop, memory_order_relaxed) && check_next(vf)) {
    }
    return NULL;
}

int dc__verifier_start(dc__verifier **out, const dc__span *v, size_t n) {
    *out = NULL;
    dc__verifier *vf = dc__calloc(1, sizeof *vf);
    if (!vf)
        return DC_ENOMEM;
    vf->v = v;
    vf->n = n;
    if (!(vf->state = dc__calloc(n ? n : 1, sizeof *vf->state))) {
        dc__free(vf);
        return DC_ENOMEM;
    }
    atomic_init(&vf->next, 0);
    atomic_init(&vf->stop, false);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int want =
        n < MIN_ENVELOPES || cpus < 2 ? 0 : (int)(cpus - 1 < MAX_THREADS ? cpus - 1 : MAX_THREADS);
    /* A thread that cannot start leaves its share to the import itself. */
    for (int k = 0; k < want; k++)
        if (pthread_create(&vf->th[vf->nth], NULL, worker, vf) == 0)
            vf->nth++;
    *out = vf;
    return 0;
}

int dc__verifier_check(dc__verifier *vf, size_t i, const dc__envelope *e, dc__err *err) {
    if (!vf || i >= vf->n)
        return dc__envelope_verify(e, err);
    if (!vf->v) /* checked ahead by dc__bundle_precheck */
        return atomic_load(&vf->state[i]) == GOOD ? 0 : dc__envelope_verify(e, err);
    unsigned char want = UNCLAIMED;
    unsigned char st;
    if (atomic_compare_exchange_strong(&vf->state[i], &want, CLAIMED)) {
        st = check(&vf->v[i]);
        atomic_store(&vf->state[i], st);
    } else {
        /* A thread is checking it: meanwhile check one further on, so
         * that both cores verify instead of one waiting. */
        while ((st = atomic_load_explicit(&vf->state[i], memory_order_acquire)) == CLAIMED)
            if (!check_next(vf))
                sched_yield();
    }
    /* A bad one is checked again here, for its error message. */
    return st == GOOD ? 0 : dc__envelope_verify(e, err);
}

typedef struct precheck {
    uint8_t *v;
    size_t n, cap;
} precheck;

static int precheck_one(void *user, uint64_t i, const uint8_t *p, size_t n) {
    precheck *c = user;
    (void)i;
    if (DC__VEC_ROOM(c->v, c->n, c->cap))
        return DC_ENOMEM;
    dc__span s = {p, n};
    c->v[c->n++] = check(&s);
    return 0;
}

int dc__bundle_precheck(const uint8_t *data, size_t size, uint8_t **checked, size_t *n) {
    precheck c = {NULL, 0, 0};
    uint64_t count;
    dc__err err = {0};
    int rc = dc__bundle_parse(data, size, &count, precheck_one, &c, &err);
    if (rc == DC_ENOMEM) {
        dc__free(c.v);
        *checked = NULL;
        *n = 0;
        return rc;
    }
    if (rc) {
        /* The import reports it: nothing is checked ahead. */
        dc__free(c.v);
        c.v = NULL;
        c.n = 0;
    }
    *checked = c.v;
    *n = c.n;
    return 0;
}

int dc__verifier_prechecked(dc__verifier **out, const uint8_t *checked, size_t n) {
    *out = NULL;
    dc__verifier *vf = dc__calloc(1, sizeof *vf);
    if (!vf)
        return DC_ENOMEM;
    if (!(vf->state = dc__calloc(n ? n : 1, sizeof *vf->state))) {
        dc__free(vf);
        return DC_ENOMEM;
    }
    vf->n = n;
    for (size_t i = 0; i < n; i++)
        atomic_init(&vf->state[i],
                    checked[i] == GOOD || checked[i] == BAD ? checked[i] : UNCLAIMED);
    atomic_init(&vf->next, n);
    atomic_init(&vf->stop, false);
    *out = vf;
    return 0;
}

static int64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void dc__verifier_pause(dc__verifier *vf, int ms) {
    int64_t end = mono_ns() + (int64_t)ms * 1000000;
    int64_t left = end - mono_ns();
    /* Each check is tens of microseconds: the pause overshoots by one. */
    while (left > 0 && vf && vf->v && check_next(vf))
        left = end - mono_ns();
    if (left > 0) {
        struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
        while (nanosleep(&ts, &ts) != 0) {
        }
    }
}

void dc__verifier_stop(dc__verifier *vf) {
    if (!vf)
        return;
    atomic_store(&vf->stop, true);
    for (int k = 0; k < vf->nth; k++)
        pthread_join(vf->th[k], NULL);
    dc__free((void *)vf->state);
    dc__free(vf);
}
